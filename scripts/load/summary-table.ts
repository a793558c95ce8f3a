// A load run's summary as the table `npm run load` prints.
import type { LoadSummary } from "./load-run.ts";

export function summaryTable(s: LoadSummary): string {
  const rows: [string, string][] = [
    ["target", s.target],
    [
      "load",
      s.mode === "open"
        ? `open loop, ${String(s.offeredRate)} orders/s offered`
        : `closed loop, ${String(s.clients)} clients`,
    ],
    ["measured", `${String(s.durationSeconds)} s`],
    ["placed", `${String(s.placed)} (${s.placedPerSecond.toFixed(1)}/s)`],
    ["confirmed", `${String(s.confirmed)} (${s.confirmedPerSecond.toFixed(1)}/s)`],
    [
      "cancelled",
      Object.entries(s.cancelled)
        .map(([r, n]) => `${String(n)} ${r}`)
        .join(", ") || "0",
    ],
    ["refused (retryable)", String(s.refused)],
    [
      "errors",
      Object.entries(s.errors)
        .map(([c, n]) => `${c} ${String(n)}`)
        .join(", ") || "none",
    ],
    [
      "place p50 / p90 / p99",
      `${s.placeMs.p50.toFixed(0)} / ${s.placeMs.p90.toFixed(0)} / ${s.placeMs.p99.toFixed(0)} ms`,
    ],
    [
      "place→CONFIRMED p50 / p90 / p99",
      `${s.placeToConfirmedMs.p50.toFixed(0)} / ${s.placeToConfirmedMs.p90.toFixed(0)} / ${s.placeToConfirmedMs.p99.toFixed(0)} ms`,
    ],
    ["most in flight", String(s.maxInFlight)],
    ["unfinished after drain", String(s.unfinished)],
  ];
  if (s.dropped > 0) rows.push(["arrivals dropped by the generator", String(s.dropped)]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n");
}
