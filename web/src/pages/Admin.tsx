import { useEffect, useRef, useState, type FormEvent } from "react";
import { ApiError, api, followEvents, idempotencyKey, ok, type Schemas } from "../api/client";
import { useAuth } from "../auth";
import { useI18n } from "../i18n";
import { Link, match, navigate } from "../router";
import { BarChart, Empty, ErrorMessage, Loading, formatTime, useLoad } from "../components/ui";
import { LANGUAGE_NAMES } from "../languages";

type LanguageId = Schemas["ProgramIn"]["language"];
const LANGUAGE_IDS = Object.keys(LANGUAGE_NAMES) as LanguageId[];

export function AdminPage({ path }: { path: string }) {
  const { t } = useI18n();
  const { user } = useAuth();
  if (!user || user.role !== "admin") {
    return <ErrorMessage error={new ApiError(403, "", "", undefined, null, {})} />;
  }
  const tabs: [string, string][] = [
    ["/admin/problems", t("adminProblems")],
    ["/admin/users", t("adminUsers")],
    ["/admin/plans", t("plans")],
    ["/admin/stats", t("adminStats")],
    ["/admin/jobs", t("adminJobs")],
  ];
  let m: Record<string, string> | null;
  let body;
  if ((m = match("/admin/problems/:platform/:problemId", path)))
    body = <ProblemEditor key={path} platform={m.platform} problemId={m.problemId} />;
  else if (path === "/admin/users") body = <Users />;
  else if (path === "/admin/plans") body = <Plans />;
  else if (path === "/admin/stats") body = <PlatformStats />;
  else if (path === "/admin/jobs") body = <Jobs />;
  else body = <Problems />;
  return (
    <section>
      <h1>{t("admin")}</h1>
      <nav aria-label={t("admin")} className="tabs">
        {tabs.map(([href, label]) => (
          <Link key={href} href={href} aria-current={path.startsWith(href) || (path === "/admin" && href === "/admin/problems") ? "page" : undefined}>
            {label}
          </Link>
        ))}
      </nav>
      {body}
    </section>
  );
}

function useAction() {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const act = async (f: () => Promise<unknown>, message?: string) => {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      await f();
      if (message) setDone(message);
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, done, act };
}

/** A registrar gives a problem page's address; the platform imports it as a draft with its samples. */
function ImportFromUrl() {
  const { t } = useI18n();
  const [url, setUrl] = useState("");
  const [state, setState] = useState<string | null>(null);
  const action = useAction();
  const start = async (e: FormEvent) => {
    e.preventDefault();
    await action.act(async () => {
      let job = await ok(api.POST("/api/v1/problem-imports", { body: { url } }));
      setState(job.status);
      const deadline = Date.now() + 60_000;
      while ((job.status === "pending" || job.status === "running") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        job = await ok(api.GET("/api/v1/problem-imports/{import_id}", { params: { path: { import_id: job.id } } }));
        setState(job.status);
      }
      if (job.status === "succeeded") navigate(`/admin/problems/${job.platform}/${job.problem_id}`);
      else setState(`${t("importFailed")}: ${job.error ?? job.status}`);
    });
  };
  return (
    <section aria-labelledby="h-import">
      <h2 id="h-import">{t("importFromUrl")}</h2>
      <form onSubmit={start} className="grid">
        <label className="wide">
          {t("problemUrl")}
          <input
            required
            type="url"
            maxLength={500}
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            placeholder="https://codeforces.com/problemset/problem/4/A"
          />
        </label>
        <ErrorMessage error={action.error} />
        {state && <p role="status">{state}</p>}
        <button type="submit" disabled={action.busy}>
          {t("importFromUrl")}
        </button>
      </form>
    </section>
  );
}

function Problems() {
  const { t, lang } = useI18n();
  const [status, setStatus] = useState<"draft" | "completed" | "deleted">("draft");
  const list = useLoad(() => ok(api.GET("/api/v1/problems", { params: { query: { status, limit: 100 } } })), [status]);
  const [form, setForm] = useState({
    platform: "",
    problem_id: "",
    title: "",
    tags: "",
    difficulty: "",
    constraints: "",
    time_limit_ms: 2000,
    memory_limit_mb: 256,
    language: "python3" as LanguageId,
    reference_solution: "",
  });
  const action = useAction();
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm({ ...form, [k]: typeof form[k] === "number" ? Number(e.target.value) : e.target.value });

  const create = async (e: FormEvent) => {
    e.preventDefault();
    const okd = await action.act(() =>
      ok(
        api.POST("/api/v1/problems", {
          // A create whose answer was lost is sent again under the same key and answered once.
          params: { header: { "Idempotency-Key": idempotencyKey() } },
          body: {
            platform: form.platform,
            problem_id: form.problem_id,
            title: form.title,
            tags: form.tags
              .split(",")
              .map((x) => x.trim())
              .filter(Boolean),
            difficulty: form.difficulty || null,
            constraints: form.constraints || null,
            time_limit_ms: form.time_limit_ms,
            memory_limit_mb: form.memory_limit_mb,
            checker: "tokens",
            status: "draft",
            language: form.reference_solution ? form.language : null,
            reference_solution: form.reference_solution || null,
          },
        }),
      ),
    );
    if (okd) navigate(`/admin/problems/${form.platform}/${form.problem_id}`);
  };

  return (
    <>
      <ImportFromUrl />
      <section aria-labelledby="h-new-problem">
        <h2 id="h-new-problem">
          {t("create")}: {t("problem")}
        </h2>
        <form onSubmit={create} className="grid">
          <label>
            {t("platform")}
            <input required pattern="[a-z][a-z0-9_-]{1,31}" value={form.platform} onChange={set("platform")} />
          </label>
          <label>
            {t("problemId")}
            <input required pattern="[A-Za-z0-9][A-Za-z0-9_-]{0,31}" value={form.problem_id} onChange={set("problem_id")} />
          </label>
          <label className="wide">
            {t("title")}
            <input required maxLength={200} value={form.title} onChange={set("title")} />
          </label>
          <label>
            {t("tags")}
            <input value={form.tags} onChange={set("tags")} placeholder="math, greedy" />
          </label>
          <label>
            Difficulty
            <input value={form.difficulty} onChange={set("difficulty")} />
          </label>
          <label>
            {t("timeLimit")} (ms)
            <input type="number" min={100} max={15000} value={form.time_limit_ms} onChange={set("time_limit_ms")} />
          </label>
          <label>
            {t("memoryLimit")} (MB)
            <input type="number" min={16} max={1024} value={form.memory_limit_mb} onChange={set("memory_limit_mb")} />
          </label>
          <label className="wide">
            {t("constraints")}
            <textarea rows={4} value={form.constraints} onChange={set("constraints")} />
          </label>
          <label>
            {t("editorLanguage")}
            <select value={form.language} onChange={set("language")}>
              {LANGUAGE_IDS.map((id) => (
                <option key={id} value={id}>
                  {LANGUAGE_NAMES[id]}
                </option>
              ))}
            </select>
          </label>
          <label className="wide">
            Reference solution
            <textarea rows={4} value={form.reference_solution} onChange={set("reference_solution")} spellCheck={false} />
          </label>
          <ErrorMessage error={action.error} />
          <button type="submit" disabled={action.busy}>
            {t("create")}
          </button>
        </form>
      </section>
      <section aria-labelledby="h-problem-list">
        <h2 id="h-problem-list">{t("adminProblems")}</h2>
        <label>
          {t("status")}
          <select value={status} onChange={(e) => setStatus(e.target.value as typeof status)}>
            <option value="draft">draft</option>
            <option value="completed">completed</option>
            <option value="deleted">deleted</option>
          </select>
        </label>
        {list.loading && <Loading />}
        <ErrorMessage error={list.error} onRetry={list.reload} />
        {list.data && list.data.items.length === 0 && <Empty />}
        {list.data && list.data.items.length > 0 && (
          <div className="scroll">
<table>
            <thead>
              <tr>
                <th scope="col">{t("problem")}</th>
                <th scope="col">{t("testCases")}</th>
                <th scope="col">{t("when")}</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((p) => (
                <tr key={`${p.platform}/${p.problem_id}`}>
                  <td>
                    <Link href={`/admin/problems/${p.platform}/${p.problem_id}`}>
                      {p.platform} {p.problem_id} · {p.title}
                    </Link>
                  </td>
                  <td>{p.test_case_count}</td>
                  <td>{formatTime(p.updated_at, lang)}</td>
                </tr>
              ))}
            </tbody>
          </table>
</div>
        )}
      </section>
    </>
  );
}

function ProblemEditor({ platform, problemId }: { platform: string; problemId: string }) {
  const { t } = useI18n();
  const path = { platform, problem_id: problemId };
  const problem = useLoad(() => ok(api.GET("/api/v1/problems/{platform}/{problem_id}", { params: { path } })), []);
  const [title, setTitle] = useState("");
  const [tags, setTags] = useState("");
  const [constraints, setConstraints] = useState("");
  const [cases, setCases] = useState("");
  const action = useAction();

  useEffect(() => {
    if (!problem.data) return;
    setTitle(problem.data.title);
    setTags(problem.data.tags.join(", "));
    setConstraints(problem.data.constraints ?? "");
  }, [problem.data]);

  if (problem.loading && !problem.data) return <Loading />;
  if (problem.error || !problem.data) return <ErrorMessage error={problem.error} onRetry={problem.reload} />;
  const p = problem.data;

  const save = (e: FormEvent) => {
    e.preventDefault();
    void action.act(async () => {
      await ok(
        api.PATCH("/api/v1/problems/{platform}/{problem_id}", {
          params: { path },
          body: {
            title,
            tags: tags
              .split(",")
              .map((x) => x.trim())
              .filter(Boolean),
            constraints: constraints || null,
          },
        }),
      );
      problem.reload();
    }, t("saved"));
  };

  const upload = (e: FormEvent) => {
    e.preventDefault();
    void action.act(async () => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(cases);
      } catch {
        throw new ApiError(400, "", "Test cases must be JSON", undefined, null, {});
      }
      const list = (Array.isArray(parsed) ? parsed : (parsed as { test_cases?: unknown }).test_cases) as Schemas["TestCaseIn"][];
      await ok(
        api.PUT("/api/v1/problems/{platform}/{problem_id}/testcases", {
          params: { path, header: { "Idempotency-Key": idempotencyKey() } },
          body: { test_cases: list.map((c) => ({ input: c.input, output: c.output, is_sample: !!c.is_sample })) },
        }),
      );
      problem.reload();
    }, t("saved"));
  };

  const readFile = async (file: File | undefined) => {
    if (file) setCases(await file.text());
  };

  return (
    <article>
      <h2>
        {p.platform} {p.problem_id} · {p.title}
      </h2>
      <p>
        {t("status")}: <strong data-testid="problem-status">{p.status}</strong> · {t("testCases")}:{" "}
        <strong data-testid="case-count">{p.test_case_count}</strong> ·{" "}
        <Link href={`/problems/${p.platform}/${p.problem_id}`}>{t("open")}</Link>
      </p>
      {action.done && (
        <p role="status" className="ok">
          {action.done}
        </p>
      )}
      <ErrorMessage error={action.error} />
      <form onSubmit={save} className="grid">
        <h3 className="wide">{t("edit")}</h3>
        <label className="wide">
          {t("title")}
          <input required value={title} onChange={(e) => setTitle(e.target.value)} />
        </label>
        <label className="wide">
          {t("tags")}
          <input value={tags} onChange={(e) => setTags(e.target.value)} />
        </label>
        <label className="wide">
          {t("constraints")}
          <textarea rows={4} value={constraints} onChange={(e) => setConstraints(e.target.value)} />
        </label>
        <button type="submit" disabled={action.busy}>
          {t("save")}
        </button>
      </form>
      <form onSubmit={upload} className="grid">
        <h3 className="wide">{t("uploadTestCases")}</h3>
        <label className="wide">
          {t("uploadFile")}
          <input type="file" accept="application/json,.json" onChange={(e) => void readFile(e.target.files?.[0])} />
        </label>
        <label className="wide">
          {t("testCasesJson")}
          <textarea rows={6} value={cases} onChange={(e) => setCases(e.target.value)} spellCheck={false} />
        </label>
        <button type="submit" disabled={action.busy || !cases.trim()}>
          {t("uploadTestCases")}
        </button>
      </form>
      <JudgeProgramForm problem={p} onSaved={problem.reload} />
      <GenerationJob platform={platform} problemId={problemId} onDone={problem.reload} />
      <div className="actions">
        <button
          type="button"
          disabled={action.busy || p.status === "completed"}
          onClick={() =>
            void action.act(async () => {
              await ok(api.POST("/api/v1/problems/{platform}/{problem_id}/complete", { params: { path } }));
              problem.reload();
            }, t("saved"))
          }
        >
          {t("complete")}
        </button>
        <button
          type="button"
          className="danger"
          disabled={action.busy}
          onClick={() => {
            if (!window.confirm(`${t("delete")} ${p.platform} ${p.problem_id}?`)) return;
            void action.act(async () => {
              await ok(api.DELETE("/api/v1/problems/{platform}/{problem_id}", { params: { path } }));
              navigate("/admin/problems");
            });
          }}
        >
          {t("delete")}
        </button>
      </div>
    </article>
  );
}

/** The problem's special checker or interactor (testlib exit codes), and the judge's report of its failures. */
function JudgeProgramForm({ problem, onSaved }: { problem: Schemas["ProblemView"]; onSaved: () => void }) {
  const { t, lang } = useI18n();
  const current = problem.interactor ? "interactor" : problem.checker_program ? "checker" : "none";
  const program = problem.interactor ?? problem.checker_program;
  const [kind, setKind] = useState<"none" | "checker" | "interactor">(current);
  const [language, setLanguage] = useState<LanguageId>((program?.language as LanguageId) ?? "cpp17");
  const [code, setCode] = useState(program?.code ?? "");
  const action = useAction();
  const health = problem.judge_health;

  const save = (e: FormEvent) => {
    e.preventDefault();
    const value = kind === "none" ? null : { language, code };
    void action.act(async () => {
      await ok(
        api.PATCH("/api/v1/problems/{platform}/{problem_id}", {
          params: { path: { platform: problem.platform, problem_id: problem.problem_id } },
          body: {
            checker_program: kind === "checker" ? value : null,
            interactor: kind === "interactor" ? value : null,
          },
        }),
      );
      onSaved();
    }, t("saved"));
  };

  return (
    <form onSubmit={save} className="grid" aria-labelledby="h-judge-program">
      <h3 className="wide" id="h-judge-program">
        {t("judgeProgram")}
      </h3>
      {health && (
        <p role="alert" className="wide error" data-testid="judge-health">
          {t("judgeHealthFailing")} ({health.program}, {health.failures}×, {formatTime(health.last_failure_at, lang)}):{" "}
          {health.detail}
        </p>
      )}
      <p className="wide">{t("judgeProgramHint")}</p>
      <label>
        {t("judgeProgramKind")}
        <select value={kind} onChange={(e) => setKind(e.target.value as typeof kind)}>
          <option value="none">{t("judgeProgramNone")}</option>
          <option value="checker">{t("judgeProgramChecker")}</option>
          <option value="interactor">{t("judgeProgramInteractor")}</option>
        </select>
      </label>
      {kind !== "none" && (
        <>
          <label>
            {t("editorLanguage")}
            <select value={language} onChange={(e) => setLanguage(e.target.value as LanguageId)}>
              {LANGUAGE_IDS.map((id) => (
                <option key={id} value={id}>
                  {LANGUAGE_NAMES[id]}
                </option>
              ))}
            </select>
          </label>
          <label className="wide">
            {t("judgeProgramCode")}
            <textarea rows={8} required value={code} onChange={(e) => setCode(e.target.value)} spellCheck={false} />
          </label>
        </>
      )}
      <button type="submit" disabled={action.busy}>
        {t("save")}
      </button>
      <ErrorMessage error={action.error} />
    </form>
  );
}

const SAMPLE_GENERATOR = `import random
seed, size = input().split()
r = random.Random(int(seed))
hi = {"small": 10, "medium": 1000, "large": 10**9, "max": 10**18}[size]
print(r.randint(0, hi), r.randint(0, hi))
`;

/** Start a generation job and follow its progress live (server-sent events). */
function GenerationJob({ platform, problemId, onDone }: { platform: string; problemId: string; onDone: () => void }) {
  const { t } = useI18n();
  const [code, setCode] = useState(SAMPLE_GENERATOR);
  const [language, setLanguage] = useState<LanguageId>("python3");
  const [count, setCount] = useState(5);
  const [job, setJob] = useState<{ job_id: string; status: string; done: number; total: number; error?: string | null } | null>(null);
  const action = useAction();
  const abort = useRef<AbortController | null>(null);
  useEffect(() => () => abort.current?.abort(), []);

  const start = (e: FormEvent) => {
    e.preventDefault();
    void action.act(async () => {
      const created = await ok(
        api.POST("/api/v1/problems/{platform}/{problem_id}/generation-jobs", {
          params: { path: { platform, problem_id: problemId } },
          body: {
            generator: { language, code },
            counts: { small: count, medium: 0, large: 0, max: 0 },
            include_samples: true,
            llm_generator: false,
            llm_solution: false,
          },
        }),
      );
      setJob({ job_id: created.job_id, status: created.status, done: created.done, total: created.total });
      abort.current = new AbortController();
      await followEvents(
        `/api/v1/generation-jobs/${created.job_id}/events`,
        ({ data }) => {
          const d = data as Schemas["JobSummary"];
          setJob({ job_id: created.job_id, status: d.status, done: d.done, total: d.total, error: d.error });
        },
        abort.current.signal,
      );
      onDone();
    });
  };

  return (
    <form onSubmit={start} className="grid" aria-labelledby="h-gen">
      <h3 className="wide" id="h-gen">
        {t("startJob")}
      </h3>
      <label>
        {t("editorLanguage")}
        <select value={language} onChange={(e) => setLanguage(e.target.value as LanguageId)}>
          {LANGUAGE_IDS.map((id) => (
            <option key={id} value={id}>
              {LANGUAGE_NAMES[id]}
            </option>
          ))}
        </select>
      </label>
      <label>
        {t("count")}
        <input type="number" min={1} max={500} value={count} onChange={(e) => setCount(Number(e.target.value))} />
      </label>
      <label className="wide">
        {t("generatorCode")}
        <textarea rows={6} value={code} onChange={(e) => setCode(e.target.value)} spellCheck={false} />
      </label>
      <ErrorMessage error={action.error} />
      <button type="submit" disabled={action.busy}>
        {t("startJob")}
      </button>
      {job && (
        <div className="wide job" data-testid="job">
          <label>
            {t("progress")}: <span data-testid="job-status">{job.status}</span> ({job.done}/{job.total})
            <progress max={job.total || 1} value={job.done} />
          </label>
          {job.error && <p className="error">{job.error}</p>}
        </div>
      )}
    </form>
  );
}

function Jobs() {
  const { t, lang } = useI18n();
  const jobs = useLoad(() => ok(api.GET("/api/v1/generation-jobs", { params: { query: { limit: 50 } } })), []);
  return (
    <section>
      <h2>{t("adminJobs")}</h2>
      {jobs.loading && <Loading />}
      <ErrorMessage error={jobs.error} onRetry={jobs.reload} />
      {jobs.data && jobs.data.items.length === 0 && <Empty />}
      {jobs.data && jobs.data.items.length > 0 && (
        <div className="scroll">
<table>
          <thead>
            <tr>
              <th scope="col">{t("problem")}</th>
              <th scope="col">{t("status")}</th>
              <th scope="col">{t("progress")}</th>
              <th scope="col">{t("when")}</th>
            </tr>
          </thead>
          <tbody>
            {jobs.data.items.map((j) => (
              <tr key={j.job_id}>
                <td>
                  <Link href={`/admin/problems/${j.platform}/${j.problem_id}`}>
                    {j.platform} {j.problem_id}
                  </Link>
                </td>
                <td>{j.status}</td>
                <td>
                  {j.done}/{j.total}
                </td>
                <td>{formatTime(j.created_at, lang)}</td>
              </tr>
            ))}
          </tbody>
        </table>
</div>
      )}
    </section>
  );
}

function Users() {
  const { t } = useI18n();
  const [q, setQ] = useState("");
  const [query, setQuery] = useState("");
  const users = useLoad(
    () => ok(api.GET("/api/v1/admin/users", { params: { query: { q: query || undefined, limit: 50 } } })),
    [query],
  );
  const plans = useLoad(() => ok(api.GET("/api/v1/plans")), []);
  const action = useAction();
  const update = (userId: string, body: Schemas["AdminUpdateRequest"]) =>
    void action.act(async () => {
      await ok(api.PATCH("/api/v1/admin/users/{user_id}", { params: { path: { user_id: userId } }, body }));
      users.reload();
    }, t("saved"));

  return (
    <section>
      <h2>{t("adminUsers")}</h2>
      <form
        role="search"
        className="searchbar"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery(q.trim());
        }}
      >
        <input type="search" aria-label={t("searchUsers")} placeholder={t("searchUsers")} value={q} onChange={(e) => setQ(e.target.value)} />
        <button type="submit">{t("search")}</button>
      </form>
      {action.done && (
        <p role="status" className="ok">
          {action.done}
        </p>
      )}
      <ErrorMessage error={action.error} />
      {users.loading && <Loading />}
      <ErrorMessage error={users.error} onRetry={users.reload} />
      {users.data && users.data.items.length === 0 && <Empty />}
      {users.data && users.data.items.length > 0 && (
        <div className="scroll">
<table>
          <thead>
            <tr>
              <th scope="col">{t("user")}</th>
              <th scope="col">{t("email")}</th>
              <th scope="col">{t("plan")}</th>
              <th scope="col">{t("status")}</th>
            </tr>
          </thead>
          <tbody>
            {users.data.items.map((u) => (
              <tr key={u.user_id}>
                <td>
                  <Link href={`/users/${u.user_id}`}>{u.name}</Link> {u.role === "admin" && "(admin)"}
                </td>
                <td>{u.email}</td>
                <td>
                  <select
                    aria-label={`${t("changePlan")}: ${u.email}`}
                    value={u.plan_id}
                    onChange={(e) => update(u.user_id, { plan_id: e.target.value })}
                  >
                    {(plans.data?.items ?? []).map((p) => (
                      <option key={p.plan_id} value={p.plan_id}>
                        {p.name}
                      </option>
                    ))}
                    {!(plans.data?.items ?? []).some((p) => p.plan_id === u.plan_id) && <option value={u.plan_id}>{u.plan_id}</option>}
                  </select>
                </td>
                <td>
                  {u.active ? "active" : "inactive"}{" "}
                  <button
                    type="button"
                    aria-label={`${u.active ? t("deactivate") : t("activate")}: ${u.email}`}
                    onClick={() => update(u.user_id, { active: !u.active })}
                  >
                    {u.active ? t("deactivate") : t("activate")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
</div>
      )}
    </section>
  );
}

function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

function PlatformStats() {
  const { t } = useI18n();
  const today = new Date();
  const [from, setFrom] = useState(isoDay(new Date(today.getTime() - 6 * 86400_000)));
  const [to, setTo] = useState(isoDay(today));
  const [range, setRange] = useState({ from, to });
  const stats = useLoad(
    () => ok(api.GET("/api/v1/admin/stats", { params: { query: { from: range.from, to: range.to } } })),
    [range.from, range.to],
  );
  const catalogue = useLoad(() => ok(api.GET("/api/v1/problems/stats")), []);
  const s = stats.data;
  return (
    <section>
      <h2>{t("adminStats")}</h2>
      <form
        className="grid"
        onSubmit={(e) => {
          e.preventDefault();
          setRange({ from, to });
        }}
      >
        <label>
          {t("from")}
          <input type="date" value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          {t("to")}
          <input type="date" value={to} onChange={(e) => setTo(e.target.value)} />
        </label>
        <button type="submit">{t("show")}</button>
      </form>
      {stats.loading && <Loading />}
      <ErrorMessage error={stats.error} onRetry={stats.reload} />
      {s && (
        <>
          <dl className="figures" data-testid="platform-figures">
            {(
              [
                [t("runs"), s.totals.executions],
                ["Accepted", s.totals.accepted],
                [t("hints"), s.totals.hints],
                ["Sign-ups", s.totals.signups],
                ["Active users", s.totals.active_users],
                ["Users", s.platform.users],
                [t("adminProblems"), s.platform.problems],
              ] as [string, number][]
            ).map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>{v}</dd>
              </div>
            ))}
          </dl>
          {catalogue.data && (
            <p className="meta">
              completed {catalogue.data.completed} · draft {catalogue.data.draft} · deleted {catalogue.data.deleted}
            </p>
          )}
          <div className="charts">
            <BarChart
              title={`${t("runs")} / day`}
              ordered
              data={Object.fromEntries([...s.days].sort((a, b) => a.day.localeCompare(b.day)).map((d) => [d.day, d.executions]))}
            />
            <BarChart title={t("byLanguage")} data={s.totals.by_language ?? {}} />
            <BarChart title={`${t("plan")}`} data={s.platform.users_per_plan ?? {}} />
          </div>
        </>
      )}
    </section>
  );
}

/** Plans and their daily limits (-1: unlimited), edited in place. */
function Plans() {
  const { t } = useI18n();
  const plans = useLoad(() => ok(api.GET("/api/v1/admin/plans")), []);
  const [edits, setEdits] = useState<Record<string, Record<string, number>>>({});
  const action = useAction();
  const limit = (p: Schemas["Plan"], a: string) => edits[p.plan_id]?.[a] ?? p.daily_limits[a] ?? 0;
  const save = (p: Schemas["Plan"]) =>
    void action.act(async () => {
      await ok(
        api.PATCH("/api/v1/admin/plans/{plan_id}", {
          params: { path: { plan_id: p.plan_id } },
          body: { daily_limits: { ...p.daily_limits, ...edits[p.plan_id] } },
        }),
      );
      plans.reload();
    }, t("saved"));
  return (
    <section>
      <h2>{t("plans")}</h2>
      {action.done && (
        <p role="status" className="ok">
          {action.done}
        </p>
      )}
      <ErrorMessage error={action.error} />
      {plans.loading && !plans.data && <Loading />}
      <ErrorMessage error={plans.error} onRetry={plans.reload} />
      {plans.data && (
        <div className="scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("plan")}</th>
                <th scope="col">{t("runs")} / day</th>
                <th scope="col">{t("hints")} / day</th>
                <th scope="col">{t("adminUsers")}</th>
                <th scope="col">
                  <span className="sr-only">{t("save")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {plans.data.items.map((p) => (
                <tr key={p.plan_id}>
                  <th scope="row">
                    {p.name} <span className="meta">{p.plan_id}</span>
                  </th>
                  {["execution", "hint"].map((a) => (
                    <td key={a}>
                      <input
                        type="number"
                        min={-1}
                        aria-label={`${p.name}: ${a === "execution" ? t("runs") : t("hints")} / day`}
                        value={limit(p, a)}
                        onChange={(e) =>
                          setEdits({ ...edits, [p.plan_id]: { ...edits[p.plan_id], [a]: Number(e.target.value) } })
                        }
                      />
                    </td>
                  ))}
                  <td>{p.active_users}</td>
                  <td>
                    <button type="button" aria-label={`${t("save")}: ${p.name}`} onClick={() => save(p)} disabled={action.busy}>
                      {t("save")}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
