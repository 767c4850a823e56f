import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { api, ok, type Schemas } from "../api/client";
import { useAuth } from "../auth";
import { useI18n } from "../i18n";
import { Link, navigate, useLocation } from "../router";
import { Empty, ErrorMessage, Loading } from "../components/ui";
import { LANGUAGE_NAMES } from "../languages";

type Page = Pick<Schemas["SearchPage"], "facets" | "next_cursor"> & { total: number | null };
type Hit = Schemas["SearchHit"];

/** The highlight's <em> marks as <mark> elements; everything else stays text (never HTML). */
export function Highlighted({ text }: { text: string }) {
  const parts = text.split(/(<em>.*?<\/em>)/g);
  return (
    <>
      {parts.map((p, i) =>
        p.startsWith("<em>") ? <mark key={i}>{p.slice(4, -5)}</mark> : <span key={i}>{p}</span>,
      )}
    </>
  );
}

/** Problems the signed-in user solved and tried, keyed "platform/problem_id". */
function useMyMarks(): Map<string, "solved" | "tried"> {
  const { user } = useAuth();
  const [marks, setMarks] = useState(new Map<string, "solved" | "tried">());
  useEffect(() => {
    if (!user) return;
    let live = true;
    (async () => {
      const out = new Map<string, "solved" | "tried">();
      try {
        const mine = await ok(api.GET("/api/v1/history", { params: { query: { scope: "mine", limit: 100 } } }));
        for (const e of mine.items) out.set(`${e.platform}/${e.problem_id}`, "tried");
        const stats = await ok(api.GET("/api/v1/me/stats"));
        for (const s of stats.solved ?? []) out.set(`${s.platform}/${s.problem_id}`, "solved");
      } catch {
        /* marks are a nicety */
      }
      if (live) setMarks(out);
    })();
    return () => {
      live = false;
    };
  }, [user]);
  return marks;
}

export function SearchPage() {
  const { t } = useI18n();
  const url = useLocation();
  const q = url.searchParams.get("q") ?? "";
  const platform = url.searchParams.get("platform") ?? "";
  const tag = url.searchParams.get("tag") ?? "";
  const language = url.searchParams.get("language") ?? "";
  const [text, setText] = useState(q);
  const [page, setPage] = useState<Page | null>(null);
  const [items, setItems] = useState<Hit[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const marks = useMyMarks();

  const query = (cursor?: string | null) => ({
    platform: platform ? [platform] : undefined,
    tags: tag ? [tag] : undefined,
    language: language ? [language] : undefined,
    limit: 20,
    cursor: cursor ?? undefined,
  });

  const latest = useRef(0);

  const load = async (cursor?: string | null) => {
    const mine = ++latest.current; // an older answer arriving late must not replace a newer one
    setLoading(true);
    setError(null);
    try {
      let res: Page & { items: Hit[] };
      if (q) {
        res = await ok(api.GET("/api/v1/problems/search", { params: { query: { ...query(cursor), q } } }));
      } else {
        // No words yet: the catalogue, newest first (search needs a query).
        const list = await ok(
          api.GET("/api/v1/problems", {
            params: {
              query: {
                platform: platform || undefined,
                language: (language || undefined) as Schemas["ProgramIn"]["language"] | undefined,
                limit: 20,
                cursor: cursor ?? undefined,
              },
            },
          }),
        );
        const items = list.items.filter((p) => !tag || p.tags.includes(tag));
        res = { items, next_cursor: list.next_cursor, total: null, facets: undefined };
      }
      if (mine !== latest.current) return;
      setPage(res);
      setItems((prev) => (cursor ? [...prev, ...res.items] : res.items));
    } catch (e) {
      if (mine === latest.current) setError(e);
    } finally {
      if (mine === latest.current) setLoading(false);
    }
  };

  useEffect(() => {
    setText(q);
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [q, platform, tag, language]);

  const setParam = (name: string, value: string) => {
    const next = new URL(url);
    if (value) next.searchParams.set(name, value);
    else next.searchParams.delete(name);
    navigate(next.pathname + next.search);
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setParam("q", text.trim());
  };

  // Enter that finishes a Korean (IME) composition must not search with half a syllable.
  const keyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === "Enter" && e.nativeEvent.isComposing) e.preventDefault();
  };

  const facets = page?.facets;
  return (
    <section>
      <h1>{t("navProblems")}</h1>
      <form role="search" onSubmit={submit} className="searchbar">
        <input
          type="search"
          aria-label={t("searchProblems")}
          placeholder={t("searchProblems")}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={keyDown}
        />
        <button type="submit">{t("search")}</button>
      </form>
      <div className="facets">
        <label>
          {t("platform")}
          <select value={platform} onChange={(e) => setParam("platform", e.target.value)}>
            <option value="">{t("any")}</option>
            {(facets?.platform ?? []).map((f) => (
              <option key={f.value} value={f.value}>
                {f.value} ({f.count})
              </option>
            ))}
            {platform && !(facets?.platform ?? []).some((f) => f.value === platform) && (
              <option value={platform}>{platform}</option>
            )}
          </select>
        </label>
        <label>
          {t("tags")}
          <select value={tag} onChange={(e) => setParam("tag", e.target.value)}>
            <option value="">{t("any")}</option>
            {(facets?.tags ?? []).map((f) => (
              <option key={f.value} value={f.value}>
                {f.value} ({f.count})
              </option>
            ))}
            {tag && !(facets?.tags ?? []).some((f) => f.value === tag) && <option value={tag}>{tag}</option>}
          </select>
        </label>
        <label>
          {t("languageFacet")}
          <select value={language} onChange={(e) => setParam("language", e.target.value)}>
            <option value="">{t("any")}</option>
            {Object.entries(LANGUAGE_NAMES).map(([id, name]) => (
              <option key={id} value={id}>
                {name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorMessage error={error} onRetry={() => void load()} />
      {page && page.total !== null && (
        <p className="count" aria-live="polite">
          {page.total} {t("results")}
        </p>
      )}
      {loading && items.length === 0 && <Loading />}
      {!loading && page && items.length === 0 && <Empty text={t("noResults")} />}
      <ul className="hits" aria-label={t("navProblems")}>
        {items.map((h) => {
          const mark = marks.get(`${h.platform}/${h.problem_id}`);
          return (
            <li key={`${h.platform}/${h.problem_id}`} className="hit">
              <Link href={`/problems/${encodeURIComponent(h.platform)}/${encodeURIComponent(h.problem_id)}`}>
                <span className="pid">
                  {h.platform} {h.problem_id}
                </span>{" "}
                <Highlighted text={h.highlight || h.title} />
              </Link>
              {mark && <span className={`mark ${mark}`}>{mark === "solved" ? `✓ ${t("solved")}` : t("tried")}</span>}
              <span className="meta">
                {h.difficulty && <span className="difficulty">{h.difficulty}</span>}
                {(h.tags ?? []).map((x) => (
                  <span key={x} className="tag">
                    {x}
                  </span>
                ))}
              </span>
            </li>
          );
        })}
      </ul>
      {page?.next_cursor && (
        <button type="button" className="more" disabled={loading} onClick={() => void load(page.next_cursor)}>
          {loading ? t("loading") : t("more")}
        </button>
      )}
    </section>
  );
}
