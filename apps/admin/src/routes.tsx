import type { TRole } from "@switchboard/schema";
import type { ComponentType } from "react";
import { ChatIcon, ConsensusIcon, DashboardIcon, EmergencyIcon, KeyIcon, LogsIcon, ModelsIcon, ProvidersIcon, SpendIcon, UsersIcon } from "./components/icons.tsx";
import { KeysPage } from "./pages/keys/keys-page.tsx";
import { LogsPage } from "./pages/logs/logs-page.tsx";
import { SpendPage } from "./pages/spend/spend-page.tsx";
import "./pages/usage.css";
import { ChatPage } from "./pages/chat/chat-page.tsx";
import { ConsensusPage } from "./pages/consensus-page.tsx";
import { DashboardPage } from "./pages/dashboard-page.tsx";
import { EmergencyPage } from "./pages/emergency-page.tsx";
import { ModelsPage } from "./pages/models/models-page.tsx";
import { ProvidersPage } from "./pages/providers/providers-page.tsx";
import { UsersPage } from "./pages/users/users-page.tsx";

export interface AppRoute {
  path: string;
  label: string;
  icon: ComponentType;
  page: ComponentType;
  /** Least role that sees the entry (and may open the page). */
  role: TRole;
}

/** The signed-in pages, in sidebar order. `/login` is handled by the app shell. */
export const ROUTES: readonly AppRoute[] = [
  { path: "/", label: "Dashboard", icon: DashboardIcon, page: DashboardPage, role: "USER" },
  { path: "/chat", label: "Chat", icon: ChatIcon, page: ChatPage, role: "USER" },
  { path: "/consensus", label: "Consensus", icon: ConsensusIcon, page: ConsensusPage, role: "USER" },
  { path: "/emergency", label: "Emergency", icon: EmergencyIcon, page: EmergencyPage, role: "USER" },
  { path: "/keys", label: "API keys", icon: KeyIcon, page: KeysPage, role: "USER" },
  { path: "/logs", label: "Logs", icon: LogsIcon, page: LogsPage, role: "USER" },
  { path: "/spend", label: "Spend", icon: SpendIcon, page: SpendPage, role: "USER" },
  { path: "/providers", label: "Providers", icon: ProvidersIcon, page: ProvidersPage, role: "ADMIN" },
  { path: "/models", label: "Models", icon: ModelsIcon, page: ModelsPage, role: "ADMIN" },
  { path: "/users", label: "Users", icon: UsersIcon, page: UsersPage, role: "SUPERADMIN" },
];
