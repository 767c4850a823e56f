import { api, ok, type Schemas } from "../api/client";
import { useAuth } from "../auth";
import { useI18n } from "../i18n";
import { Link } from "../router";
import { BarChart, Empty, ErrorMessage, Loading, formatTime, useLoad } from "../components/ui";
import { HistoryTable } from "./History";

function Figures({ s }: { s: Schemas["PublicUserStats"] | Schemas["UserStats"] }) {
  const { t } = useI18n();
  const figures: [string, string | number][] = [
    [t("runs"), s.executions],
    [t("problemsSolved"), s.problems_solved],
    [t("problemsTried"), s.problems_attempted],
    [t("acceptance"), `${Math.round(s.acceptance_rate * 100)}%`],
    [t("streak"), `${s.current_streak} / ${s.best_streak}`],
  ];
  return (
    <dl className="figures">
      {figures.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

export function MyStatsPage() {
  const { t, lang } = useI18n();
  const { user } = useAuth();
  const stats = useLoad(() => ok(api.GET("/api/v1/me/stats")), [user?.user_id]);
  const usage = useLoad(() => ok(api.GET("/api/v1/me/usage")), [user?.user_id]);
  if (!user)
    return (
      <p>
        <Link href="/signin?next=/me">{t("signIn")}</Link>
      </p>
    );
  return (
    <section>
      <h1>{t("myStats")}</h1>
      <p>
        <Link href={`/users/${user.user_id}`}>{t("profile")}</Link>
      </p>
      <section aria-labelledby="h-usage">
        <h2 id="h-usage">
          {t("usage")} ({t("plan")}: {user.plan_id})
        </h2>
        {usage.loading && <Loading />}
        <ErrorMessage error={usage.error} onRetry={usage.reload} />
        {usage.data && (
          <div className="scroll">
<table className="usage" data-testid="usage">
            <thead>
              <tr>
                <th scope="col">{t("usage")}</th>
                <th scope="col">{t("used")}</th>
                <th scope="col">{t("limit")}</th>
                <th scope="col">{t("remaining")}</th>
              </tr>
            </thead>
            <tbody>
              {usage.data.actions.map((a) => (
                <tr key={a.action} data-action={a.action}>
                  <th scope="row">{a.action === "execution" ? t("runs") : a.action === "hint" ? t("hints") : a.action}</th>
                  <td data-testid={`used-${a.action}`}>{a.used}</td>
                  <td>{a.limit < 0 ? "∞" : a.limit}</td>
                  <td data-testid={`remaining-${a.action}`}>{a.remaining ?? "∞"}</td>
                </tr>
              ))}
            </tbody>
          </table>
</div>
        )}
        {usage.data && (
          <p className="meta">
            {t("resetsAt")}: <time dateTime={usage.data.reset_at}>{formatTime(usage.data.reset_at, lang)}</time>
          </p>
        )}
      </section>
      {stats.loading && <Loading />}
      <ErrorMessage error={stats.error} onRetry={stats.reload} />
      {stats.data && (
        <>
          <Figures s={stats.data} />
          <div className="charts">
            <BarChart title={t("byVerdict")} data={stats.data.by_verdict ?? {}} />
            <BarChart title={t("byLanguage")} data={stats.data.by_language ?? {}} />
          </div>
          <h2>{t("problemsSolved")}</h2>
          {(stats.data.solved ?? []).length === 0 ? (
            <Empty />
          ) : (
            <ul>
              {(stats.data.solved ?? []).map((p) => (
                <li key={`${p.platform}/${p.problem_id}`}>
                  <Link href={`/problems/${p.platform}/${p.problem_id}`}>
                    {p.platform} {p.problem_id}
                  </Link>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}

export function ProfilePage({ userId }: { userId: string }) {
  const { t } = useI18n();
  const stats = useLoad(
    () => ok(api.GET("/api/v1/users/{user_id}/stats", { params: { path: { user_id: userId } } })),
    [userId],
  );
  // Public runs of this user: the public feed filtered to them (the API has no per-user listing).
  const runs = useLoad(
    () => ok(api.GET("/api/v1/history", { params: { query: { scope: "public", limit: 100 } } })),
    [userId],
  );
  const mine = (runs.data?.items ?? []).filter((e) => e.user_id === userId);
  return (
    <section>
      <h1>
        {t("profile")}: {mine[0]?.user_name ?? userId}
      </h1>
      {stats.loading && <Loading />}
      <ErrorMessage error={stats.error} onRetry={stats.reload} />
      {stats.data && (
        <>
          <Figures s={stats.data} />
          <div className="charts">
            <BarChart title={t("byVerdict")} data={stats.data.by_verdict ?? {}} />
            <BarChart title={t("byLanguage")} data={stats.data.by_language ?? {}} />
          </div>
        </>
      )}
      <h2>{t("public")}</h2>
      {runs.loading ? <Loading /> : mine.length ? <HistoryTable items={mine} showUser={false} /> : <Empty />}
    </section>
  );
}
