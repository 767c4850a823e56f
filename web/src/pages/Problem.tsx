import { Suspense, lazy, useCallback, useEffect, useRef, useState } from "react";
import { ApiError, api, followEvents, idempotencyKey, ok, type Schemas } from "../api/client";
import { useAuth } from "../auth";
import { useI18n } from "../i18n";
import { Link, useLocation } from "../router";
// CodeMirror loads only for signed-in users, while the statement is already shown.
const CodeEditor = lazy(() => import("../components/CodeEditor").then((m) => ({ default: m.CodeEditor })));
import { LANGUAGE_NAMES, STARTER } from "../languages";
import { ExecutionResult, type LiveExecution } from "../components/Results";
import { ErrorMessage, Loading, Verdict, formatTime, useLoad } from "../components/ui";
import { HintList, QuotaBar, useUsage } from "../components/Hints";

type RunResult = Schemas["RunResult"];

function savedCode(key: string, language: string): string {
  return localStorage.getItem(`${key}:${language}`) ?? STARTER[language] ?? "";
}

export function ProblemPage({ platform, problemId }: { platform: string; problemId: string }) {
  const { t, lang } = useI18n();
  const { user } = useAuth();
  const url = useLocation();
  const problem = useLoad(
    () => ok(api.GET("/api/v1/problems/{platform}/{problem_id}", { params: { path: { platform, problem_id: problemId } } })),
    [platform, problemId],
  );
  const usage = useUsage(user !== null);
  const storeKey = `algoitny.code:${platform}/${problemId}`;
  const [language, setLanguage] = useState(() => localStorage.getItem("algoitny.language") ?? "python3");
  const [code, setCode] = useState(() => savedCode(storeKey, language));
  const [stdin, setStdin] = useState("");
  const [share, setShare] = useState(false);
  const [busy, setBusy] = useState<"run" | "submit" | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [runResult, setRunResult] = useState<RunResult | null>(null);
  const [live, setLive] = useState<LiveExecution | null>(null);
  const abort = useRef<AbortController | null>(null);

  useEffect(() => () => abort.current?.abort(), []);

  useEffect(() => {
    const first = problem.data?.samples?.[0];
    if (first && !stdin) setStdin(first.input);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [problem.data]);

  const changeLanguage = (l: string) => {
    localStorage.setItem("algoitny.language", l);
    setLanguage(l);
    setCode(savedCode(storeKey, l));
  };

  const changeCode = useCallback(
    (v: string) => {
      setCode(v);
      localStorage.setItem(`${storeKey}:${language}`, v);
    },
    [storeKey, language],
  );

  const run = async () => {
    setBusy("run");
    setError(null);
    setRunResult(null);
    try {
      setRunResult(
        await ok(
          api.POST("/api/v1/runs", {
            body: { language, code, stdin },
            headers: { "Idempotency-Key": idempotencyKey() },
          }),
        ),
      );
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
      usage.reload();
    }
  };

  const submit = async () => {
    setBusy("submit");
    setError(null);
    abort.current?.abort();
    const ctrl = new AbortController();
    abort.current = ctrl;
    try {
      const sub = await ok(
        api.POST("/api/v1/executions", {
          body: { platform, problem_id: problemId, language, code, public: share, stop_on_first_failure: false },
          headers: { "Idempotency-Key": idempotencyKey() },
        }),
      );
      usage.reload();
      const state: LiveExecution = { execution_id: sub.execution_id, status: sub.status, tests: [] };
      setLive({ ...state });
      await followEvents(
        `/api/v1/executions/${encodeURIComponent(sub.execution_id)}/events`,
        ({ event, data }) => {
          const d = data as Record<string, unknown>;
          if (event === "status") state.status = String(d.status);
          else if (event === "test") state.tests = [...state.tests, d as unknown as Schemas["TestView"]];
          else if (event === "completed") {
            const v = d as unknown as Schemas["ExecutionView"];
            Object.assign(state, {
              status: "completed",
              verdict: v.verdict,
              passed: v.passed,
              total: v.total,
              compile_message: v.compile_message,
              detail: v.detail,
            });
          }
          setLive({ ...state, tests: [...state.tests] });
        },
        ctrl.signal,
      );
      if (state.status !== "completed") {
        // The stream ended early (timeout or a dropped connection): read the stored result.
        const v = await ok(
          api.GET("/api/v1/executions/{execution_id}", { params: { path: { execution_id: sub.execution_id } } }),
        );
        setLive({ ...v, tests: v.tests ?? [] });
      }
    } catch (e) {
      if (!(e instanceof DOMException && e.name === "AbortError")) setError(e);
    } finally {
      setBusy(null);
      usage.reload();
    }
  };

  if (problem.loading && !problem.data) return <Loading />;
  if (problem.error || !problem.data) return <ErrorMessage error={problem.error} onRetry={problem.reload} />;
  const p = problem.data;
  const signInHref = `/signin?next=${encodeURIComponent(url.pathname)}`;

  return (
    <article className="problem">
      <header>
        <p className="pid">
          {p.platform} {p.problem_id}
          {p.difficulty && <span className="difficulty"> · {p.difficulty}</span>}
        </p>
        <h1>{p.title}</h1>
        <dl className="limits">
          <dt>{t("timeLimit")}</dt>
          <dd>{p.time_limit_ms} ms</dd>
          <dt>{t("memoryLimit")}</dt>
          <dd>{p.memory_limit_mb} MB</dd>
        </dl>
        {p.tags.length > 0 && (
          <ul className="tags" aria-label={t("tags")}>
            {p.tags.map((x) => (
              <li key={x} className="tag">
                {x}
              </li>
            ))}
          </ul>
        )}
        {p.url && (
          <p>
            <a href={p.url} rel="noreferrer noopener" target="_blank">
              {p.url}
            </a>
          </p>
        )}
      </header>
      <section aria-labelledby="h-statement">
        <h2 id="h-statement">{t("statement")}</h2>
        {p.interactive && (
          <p role="note" data-testid="interactive-note">
            {t("interactiveNote")}
          </p>
        )}
        {p.constraints ? (
          <>
            <h3>{t("constraints")}</h3>
            <pre className="statement">{p.constraints}</pre>
          </>
        ) : (
          <p className="empty">{p.url ? t("statementAtSource") : t("empty")}</p>
        )}
      </section>
      {(p.samples ?? []).length > 0 && (
        <section aria-labelledby="h-samples">
          <h2 id="h-samples">{t("samples")}</h2>
          {(p.samples ?? []).map((s, i) => (
            <div className="sample" key={i}>
              <div>
                <h3>
                  {t("sampleInput")} {i + 1}
                </h3>
                <pre>{s.input}</pre>
              </div>
              <div>
                <h3>
                  {t("sampleOutput")} {i + 1}
                </h3>
                <pre>{s.output}</pre>
              </div>
            </div>
          ))}
        </section>
      )}
      <section aria-labelledby="h-code" className="workbench">
        <h2 id="h-code">{t("code")}</h2>
        {!user ? (
          <p>
            <Link href={signInHref}>{t("signIn")}</Link>
          </p>
        ) : (
          <>
            <QuotaBar usage={usage.data} />
            <label>
              {t("editorLanguage")}
              <select value={language} onChange={(e) => changeLanguage(e.target.value)}>
                {Object.entries(LANGUAGE_NAMES).map(([id, name]) => (
                  <option key={id} value={id}>
                    {name}
                  </option>
                ))}
              </select>
            </label>
            <Suspense fallback={<Loading />}>
              <CodeEditor value={code} language={language} label={t("code")} onChange={changeCode} />
            </Suspense>
            <label>
              {t("customInput")}
              <textarea rows={4} value={stdin} onChange={(e) => setStdin(e.target.value)} spellCheck={false} />
            </label>
            <label className="check">
              <input type="checkbox" checked={share} onChange={(e) => setShare(e.target.checked)} />
              {t("makePublic")}
            </label>
            <div className="actions">
              <button type="button" onClick={() => void run()} disabled={busy !== null}>
                {t("run")}
              </button>
              <button type="button" className="primary" onClick={() => void submit()} disabled={busy !== null}>
                {t("submit")}
              </button>
            </div>
            <ErrorMessage error={error} />
            {runResult && (
              <section className="result" aria-labelledby="h-run">
                <h3 id="h-run">
                  {t("runOutput")}: <Verdict v={runResult.verdict} />{" "}
                  <span className="meta">
                    {runResult.time_ms} ms · {Math.round(runResult.memory_kb / 1024)} MB
                  </span>
                </h3>
                {runResult.compile_message && (
                  <>
                    <h4>{t("compileError")}</h4>
                    <pre>{runResult.compile_message}</pre>
                  </>
                )}
                <pre data-testid="run-stdout" aria-label={t("output")} tabIndex={0}>
                  {runResult.stdout}
                </pre>
                {runResult.stderr && <pre className="stderr">{runResult.stderr}</pre>}
                {runResult.detail && <p className="detail">{runResult.detail}</p>}
              </section>
            )}
            {live && (
              <>
                <ExecutionResult ex={live} />
                <p>
                  <Link href={`/executions/${live.execution_id}`}>
                    {t("open")} {live.execution_id}
                  </Link>
                </p>
                {live.status === "completed" && live.verdict !== "AC" && (
                  <ExecutionHints executionId={live.execution_id} onCharged={usage.reload} />
                )}
              </>
            )}
            <ProblemHints platform={platform} problemId={problemId} onCharged={usage.reload} />
          </>
        )}
      </section>
      <p className="meta">
        {t("updatedAt")}: <time dateTime={p.updated_at}>{formatTime(p.updated_at, lang)}</time>
      </p>
    </article>
  );
}

/** Hints for a failed submission: requested (charged), then generated by a worker; polled until ready. */
export function ExecutionHints({ executionId, onCharged }: { executionId: string; onCharged: () => void }) {
  const { t } = useI18n();
  const [view, setView] = useState<Schemas["HintsView"] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const poll = useCallback(async () => {
    for (let delay = 300; ; delay = Math.min(delay * 1.5, 2000)) {
      const r = await api.GET("/api/v1/executions/{execution_id}/hints", {
        params: { path: { execution_id: executionId } },
      });
      if (r.response.ok && r.data) {
        setView(r.data);
        if (r.data.status !== "pending") return;
      } else if (r.response.status !== 404) throw new ApiError(r.response.status, "", "", undefined, null, {});
      await new Promise((res) => setTimeout(res, delay));
    }
  }, [executionId]);

  const ask = async () => {
    setBusy(true);
    setError(null);
    try {
      await ok(
        api.POST("/api/v1/executions/{execution_id}/hints", {
          params: { path: { execution_id: executionId } },
          headers: { "Idempotency-Key": idempotencyKey() },
        }),
      );
      onCharged();
      await poll();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="hints" aria-labelledby={`h-hints-${executionId}`}>
      <h3 id={`h-hints-${executionId}`}>{t("hints")}</h3>
      {!view && (
        <button type="button" onClick={() => void ask()} disabled={busy}>
          {t("getHint")}
        </button>
      )}
      {busy && <Loading />}
      <ErrorMessage error={error} />
      {view && <HintList view={view} />}
    </section>
  );
}

/** The problem's own hints (generated by admins; reading them costs one hint a day). */
function ProblemHints({ platform, problemId, onCharged }: { platform: string; problemId: string; onCharged: () => void }) {
  const { t } = useI18n();
  const [view, setView] = useState<Schemas["HintsView"] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const load = async () => {
    setBusy(true);
    setError(null);
    try {
      setView(
        await ok(
          api.GET("/api/v1/problems/{platform}/{problem_id}/hints", {
            params: { path: { platform, problem_id: problemId } },
          }),
        ),
      );
      onCharged();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="hints" aria-labelledby="h-problem-hints">
      <h3 id="h-problem-hints">{t("problemHints")}</h3>
      {!view && (
        <button type="button" onClick={() => void load()} disabled={busy}>
          {t("problemHints")}
        </button>
      )}
      <ErrorMessage error={error} />
      {view && <HintList view={view} />}
    </section>
  );
}
