/**
 * Small hand-rolled SVG charts: a per-minute chart (bars or lines) and a sparkline. The data
 * is a few dozen points, so plain SVG is lighter than any chart library and needs no layout
 * pass: the viewBox scales with the card.
 */
export interface Series {
  name: string;
  color: string;
  /** null: no data for that minute (a gap in a line, no bar). */
  values: Array<number | null>;
}

// Close to the size the card renders at, so 11 px text stays about 11 px.
const W = 400;
const H = 170;
const PAD = { top: 10, right: 8, bottom: 22, left: 50 };

/** 1, 2, 5 × 10^n at or above `value`, so axis labels are round numbers. */
function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 5, 10].find((m) => m * power >= value)!;
  return step * power;
}

export function TimeChart({ title, labels, series, kind, format }: { title: string; labels: string[]; series: Series[]; kind: "bars" | "lines"; format: (v: number) => string }) {
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null))));
  const n = Math.max(1, labels.length);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (i: number) => PAD.left + (plotW * (i + 0.5)) / n;
  const y = (v: number) => PAD.top + plotH - (plotH * v) / max;
  const band = plotW / n;
  const barW = Math.max(1, (band * 0.8) / Math.max(1, series.length));
  const last = series.map((s) => `${s.name} ${format(s.values.at(-1) ?? 0)}`).join(", ");
  /** Line segments over consecutive minutes with data; a lone point becomes a dot. */
  const segments = (values: Array<number | null>) => {
    const out: Array<Array<[number, number]>> = [];
    values.forEach((v, i) => {
      if (v === null) return;
      const point: [number, number] = [x(i), y(v)];
      if (i > 0 && values[i - 1] !== null && out.length > 0) out.at(-1)!.push(point);
      else out.push([point]);
    });
    return out;
  };

  return (
    <figure className="chart" aria-label={title}>
      <figcaption className="chart-head">
        <span className="chart-title">{title}</span>
        <span className="chart-legend">
          {series.map((s) => (
            <span key={s.name}><i style={{ background: s.color }} aria-hidden="true" />{s.name}</span>
          ))}
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}; latest minute: ${last}`}>
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line className="chart-grid" x1={PAD.left} x2={W - PAD.right} y1={y(max * f)} y2={y(max * f)} />
            <text className="chart-axis" x={PAD.left - 6} y={y(max * f) + 4} textAnchor="end">{format(max * f)}</text>
          </g>
        ))}
        {[0, Math.floor((n - 1) / 2), n - 1].map((i, k) => (
          <text key={i} className="chart-axis" x={k === 0 ? PAD.left : k === 2 ? W - PAD.right : x(i)} y={H - 6} textAnchor={k === 0 ? "start" : k === 2 ? "end" : "middle"}>
            {labels[i] ?? ""}
          </text>
        ))}
        {kind === "bars"
          ? series.map((s, k) =>
              s.values.map((v, i) =>
                v !== null && v > 0 ? <rect key={`${s.name}-${i}`} data-series={s.name} x={x(i) - (barW * series.length) / 2 + k * barW} y={y(v)} width={barW} height={y(0) - y(v)} rx={1.5} fill={s.color} /> : null,
              ),
            )
          : series.map((s) => (
              <g key={s.name} data-series={s.name}>
                {segments(s.values).map((seg, k) =>
                  seg.length === 1 ? (
                    <circle key={k} cx={seg[0]![0]} cy={seg[0]![1]} r={2.5} fill={s.color} />
                  ) : (
                    <polyline key={k} fill="none" stroke={s.color} strokeWidth={2} strokeLinejoin="round" points={seg.map(([px, py]) => `${px},${py}`).join(" ")} />
                  ),
                )}
              </g>
            ))}
      </svg>
    </figure>
  );
}

/** A trend line for a stat card; flat when there is nothing yet. */
export function Sparkline({ values, color, label }: { values: number[]; color: string; label: string }) {
  const w = 120;
  const h = 28;
  const max = Math.max(1e-9, ...values);
  const points = values.length < 2 ? `0,${h - 1} ${w},${h - 1}` : values.map((v, i) => `${(w * i) / (values.length - 1)},${h - 1 - ((h - 2) * v) / max}`).join(" ");
  return (
    <svg className="sparkline" viewBox={`0 0 ${w} ${h}`} role="img" aria-label={label} preserveAspectRatio="none">
      <polyline points={points} fill="none" stroke={color} strokeWidth={1.5} />
    </svg>
  );
}
