import { api, ok, type Schemas } from "../api/client";
import { useI18n } from "../i18n";
import { Loading, formatTime, useLoad } from "./ui";

export function useUsage(enabled: boolean) {
  return useLoad(async () => (enabled ? ok(api.GET("/api/v1/me/usage")) : null), [enabled]);
}

/** Remaining runs and hints today, and when they reset. */
export function QuotaBar({ usage }: { usage: Schemas["UsageView"] | null }) {
  const { t, lang } = useI18n();
  if (!usage) return null;
  const of = (action: string) => usage.actions.find((a) => a.action === action);
  const runs = of("execution");
  const hints = of("hint");
  const left = (q: Schemas["QuotaState"] | undefined) => (q ? (q.remaining === null ? "∞" : String(q.remaining)) : "–");
  return (
    <p className="quota" data-testid="quota" aria-live="polite">
      <span>
        {t("runsLeft")}: <strong data-testid="runs-left">{left(runs)}</strong>
      </span>{" "}
      ·{" "}
      <span>
        {t("hintsLeft")}: <strong data-testid="hints-left">{left(hints)}</strong>
      </span>
      {hints && hints.remaining === 0 && (
        <span className="spent">
          {" "}
          {t("quotaSpent")} {formatTime(hints.reset_at, lang)}
        </span>
      )}
    </p>
  );
}

export function HintList({ view }: { view: Schemas["HintsView"] }) {
  if (view.status === "pending") return <Loading />;
  if (view.status === "failed") return <p className="error">{view.cause ?? "Hint generation failed."}</p>;
  return (
    <ol className="hint-list">
      {(view.hints ?? []).map((h) => (
        <li key={h.level}>
          <details open={h.level === 1}>
            <summary>{h.title}</summary>
            <p>{h.text}</p>
          </details>
        </li>
      ))}
    </ol>
  );
}
