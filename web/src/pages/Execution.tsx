import { useState } from "react";
import { api, ok } from "../api/client";
import { useAuth } from "../auth";
import { useI18n } from "../i18n";
import { Link } from "../router";
import { ErrorMessage, Loading, formatTime, useLoad } from "../components/ui";
import { ExecutionResult } from "../components/Results";
import { ExecutionHints } from "./Problem";
import { useUsage } from "../components/Hints";
import { LANGUAGE_NAMES } from "../languages";

export function ExecutionPage({ id }: { id: string }) {
  const { t, lang } = useI18n();
  const { user } = useAuth();
  const usage = useUsage(user !== null);
  const [busy, setBusy] = useState(false);
  const [toggleError, setToggleError] = useState<unknown>(null);
  const ex = useLoad(
    () => ok(api.GET("/api/v1/executions/{execution_id}", { params: { path: { execution_id: id } } })),
    [id],
  );
  if (ex.loading && !ex.data) return <Loading />;
  if (ex.error || !ex.data) return <ErrorMessage error={ex.error} onRetry={ex.reload} />;
  const v = ex.data;
  const mine = user?.user_id === v.user_id;
  const toggle = async () => {
    setBusy(true);
    setToggleError(null);
    try {
      ex.setData(
        await ok(
          api.PATCH("/api/v1/executions/{execution_id}", {
            params: { path: { execution_id: id } },
            body: { public: !v.public },
          }),
        ),
      );
    } catch (e) {
      setToggleError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <article>
      <h1>
        <Link href={`/problems/${v.platform}/${v.problem_id}`}>
          {v.platform} {v.problem_id} · {v.problem_title}
        </Link>
      </h1>
      <p className="meta">
        <Link href={`/users/${v.user_id}`}>{v.user_name ?? v.user_id}</Link> · {LANGUAGE_NAMES[v.language] ?? v.language}{" "}
        · {formatTime(v.created_at, lang)} · {v.public ? t("public") : t("private")}
        {mine && (
          <>
            {" "}
            <button type="button" onClick={toggle} disabled={busy}>
              {v.public ? t("setPrivate") : t("setPublic")}
            </button>
          </>
        )}
      </p>
      {toggleError != null && <ErrorMessage error={toggleError} />}
      <ExecutionResult ex={{ ...v, tests: v.tests ?? [] }} />
      {v.code_visible && v.code != null && (
        <section aria-labelledby="h-exec-code">
          <h2 id="h-exec-code">{t("code")}</h2>
          <pre className="code" tabIndex={0} aria-label={t("code")}>
            {v.code}
          </pre>
        </section>
      )}
      {(v.hints ?? []).length > 0 && (
        <section>
          <h2>{t("hints")}</h2>
          <ul>
            {(v.hints ?? []).map((h, i) => (
              <li key={i}>{h}</li>
            ))}
          </ul>
        </section>
      )}
      {mine && v.status === "completed" && v.verdict !== "AC" && (
        <ExecutionHints executionId={v.execution_id} onCharged={usage.reload} />
      )}
    </article>
  );
}
