import { useEffect, useRef, useState } from "react";
import { api, ok, type Schemas } from "../api/client";
import { useAuth } from "../auth";
import { useI18n } from "../i18n";
import { Link, navigate, useLocation } from "../router";
import { Empty, ErrorMessage, Loading, Verdict, formatTime } from "../components/ui";
import { LANGUAGE_NAMES } from "../languages";

type Scope = "mine" | "public" | "feed";
type Entry = Schemas["HistoryEntry"];

export function HistoryTable({ items, showUser = true }: { items: Entry[]; showUser?: boolean }) {
  const { t, lang } = useI18n();
  return (
    <div className="scroll">
<table className="history">
      <thead>
        <tr>
          <th scope="col">{t("when")}</th>
          <th scope="col">{t("problem")}</th>
          {showUser && <th scope="col">{t("user")}</th>}
          <th scope="col">{t("languageFacet")}</th>
          <th scope="col">{t("verdict")}</th>
          <th scope="col">{t("visibility")}</th>
        </tr>
      </thead>
      <tbody>
        {items.map((e) => (
          <tr key={e.execution_id} data-testid="history-row">
            <td>
              <Link href={`/executions/${e.execution_id}`}>{formatTime(e.created_at, lang)}</Link>
            </td>
            <td>
              <Link href={`/problems/${e.platform}/${e.problem_id}`}>
                {e.platform} {e.problem_id} · {e.problem_title}
              </Link>
            </td>
            {showUser && (
              <td>
                <Link href={`/users/${e.user_id}`}>{e.user_name ?? e.user_id}</Link>
              </td>
            )}
            <td>{LANGUAGE_NAMES[e.language] ?? e.language}</td>
            <td>
              <Verdict v={e.status === "completed" ? e.verdict : e.status} />{" "}
              {e.status === "completed" && (
                <span className="meta">
                  {e.passed}/{e.total} · {e.max_time_ms} ms
                </span>
              )}
            </td>
            <td>{e.public ? t("public") : t("private")}</td>
          </tr>
        ))}
      </tbody>
    </table>
</div>
  );
}

export function HistoryPage() {
  const { t } = useI18n();
  const { user } = useAuth();
  const url = useLocation();
  const scope = ((url.searchParams.get("scope") as Scope | null) ?? (user ? "mine" : "public")) as Scope;
  const [items, setItems] = useState<Entry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);

  const latest = useRef(0);

  const load = async (after?: string | null) => {
    const mine = ++latest.current; // a late answer of another tab must not show here
    setLoading(true);
    setError(null);
    try {
      const page = await ok(
        api.GET("/api/v1/history", { params: { query: { scope, limit: 20, cursor: after ?? undefined } } }),
      );
      if (mine !== latest.current) return;
      setItems((prev) => (after ? [...prev, ...page.items] : page.items));
      setCursor(page.next_cursor ?? null);
    } catch (e) {
      if (mine === latest.current) setError(e);
    } finally {
      if (mine === latest.current) setLoading(false);
    }
  };

  useEffect(() => {
    setItems([]);
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [scope, user]);

  const scopes: Scope[] = user ? ["mine", "public", "feed"] : ["public"];
  return (
    <section>
      <h1>{t("history")}</h1>
      <div role="tablist" aria-label={t("history")} className="tabs">
        {scopes.map((s) => (
          <button
            key={s}
            type="button"
            role="tab"
            aria-selected={s === scope}
            onClick={() => navigate(`/history?scope=${s}`)}
          >
            {t(s)}
          </button>
        ))}
      </div>
      <div role="tabpanel" aria-label={t(scope)}>
        <ErrorMessage error={error} onRetry={() => void load()} />
        {items.length > 0 && <HistoryTable items={items} />}
        {loading && <Loading />}
        {!loading && !error && items.length === 0 && <Empty />}
        {cursor && !loading && (
          <button type="button" className="more" onClick={() => void load(cursor)}>
            {t("more")}
          </button>
        )}
      </div>
    </section>
  );
}
