import type { SVGProps } from "react";

/** Line icons (24×24, currentColor), decorative: the text next to them names the control. */
function Icon({ children, ...props }: SVGProps<SVGSVGElement>) {
  return (
    <svg viewBox="0 0 24 24" width="18" height="18" fill="none" stroke="currentColor" strokeWidth="1.8"
      strokeLinecap="round" strokeLinejoin="round" aria-hidden="true" focusable="false" {...props}>
      {children}
    </svg>
  );
}

export const DashboardIcon = () => (
  <Icon><rect x="3" y="3" width="7" height="9" rx="1.5" /><rect x="14" y="3" width="7" height="5" rx="1.5" /><rect x="14" y="12" width="7" height="9" rx="1.5" /><rect x="3" y="16" width="7" height="5" rx="1.5" /></Icon>
);
export const ChatIcon = () => (
  <Icon><path d="M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12Z" /></Icon>
);
export const ConsensusIcon = () => (
  <Icon><circle cx="6" cy="6" r="2.5" /><circle cx="18" cy="6" r="2.5" /><circle cx="12" cy="18" r="2.5" /><path d="M7.5 8 11 15.8M16.5 8 13 15.8M8.5 6h7" /></Icon>
);
export const EmergencyIcon = () => (
  <Icon><path d="M12 3 2.5 20h19L12 3Z" /><path d="M12 10v4.5M12 17.5v.01" /></Icon>
);
export const UsersIcon = () => (
  <Icon><circle cx="9" cy="8" r="3.5" /><path d="M2.5 20c.6-3.6 3.2-5.5 6.5-5.5s5.9 1.9 6.5 5.5" /><path d="M16 4.8a3.5 3.5 0 0 1 0 6.4M18.5 14.8c1.6.8 2.6 2.5 3 5.2" /></Icon>
);
export const ProvidersIcon = () => (
  <Icon><rect x="3" y="4" width="18" height="6" rx="1.5" /><rect x="3" y="14" width="18" height="6" rx="1.5" /><path d="M7 7h.01M7 17h.01" /></Icon>
);
export const ModelsIcon = () => (
  <Icon><path d="M4 6h6l4 6-4 6H4" /><path d="M14 12h6M17 9l3 3-3 3" /></Icon>
);
export const SignOutIcon = () => (
  <Icon><path d="M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3" /><path d="M10 8l-4 4 4 4M6 12h10" /></Icon>
);

/** The Switchboard mark: two patch cords on a board. */
export function Logo({ size = 28 }: { size?: number }) {
  return (
    <svg viewBox="0 0 32 32" width={size} height={size} aria-hidden="true" focusable="false">
      <rect width="32" height="32" rx="7" fill="#2b6fe0" />
      <g fill="none" stroke="#fff" strokeWidth="2.6" strokeLinecap="round">
        <path d="M8 11h9M21.5 11H24M8 21h2M14.5 21H24" />
      </g>
      <circle cx="18.5" cy="11" r="2.8" fill="#fff" />
      <circle cx="12" cy="21" r="2.8" fill="#fff" />
    </svg>
  );
}
export const KeyIcon = () => (
  <Icon><circle cx="8" cy="15" r="4" /><path d="m11 12 9-9M17 6l3 3M15 8l2 2" /></Icon>
);
export const LogsIcon = () => (
  <Icon><path d="M8 6h12M8 12h12M8 18h12M4 6h.01M4 12h.01M4 18h.01" /></Icon>
);
export const SpendIcon = () => (
  <Icon><path d="M12 3v18M16.5 7.5C16 6 14.3 5 12 5c-2.8 0-4.5 1.4-4.5 3.3 0 4.4 9 2.3 9 6.9 0 1.9-1.8 3.3-4.5 3.3-2.4 0-4.2-1-4.8-2.7" /></Icon>
);
