import { Suspense, lazy, useEffect, useRef } from "react";
import { AuthProvider, useAuth } from "./auth";
import { useI18n, type Lang } from "./i18n";
import { Link, match, navigate, useLocation } from "./router";
import { Loading } from "./components/ui";
import { SignInPage, SignUpPage } from "./pages/Auth";
import { SearchPage } from "./pages/Search";
import { HistoryPage } from "./pages/History";
import { MyStatsPage, ProfilePage } from "./pages/Stats";

// The editor (CodeMirror) and the admin pages load only when needed.
const ProblemPage = lazy(() => import("./pages/Problem").then((m) => ({ default: m.ProblemPage })));
const ExecutionPage = lazy(() => import("./pages/Execution").then((m) => ({ default: m.ExecutionPage })));
const AdminPage = lazy(() => import("./pages/Admin").then((m) => ({ default: m.AdminPage })));

export function App() {
  return (
    <AuthProvider>
      <Shell />
    </AuthProvider>
  );
}

function Shell() {
  const { t, lang, setLang } = useI18n();
  const { user, ready, signOut } = useAuth();
  const url = useLocation();
  const main = useRef<HTMLElement>(null);
  const path = url.pathname;

  useEffect(() => {
    main.current?.focus({ preventScroll: true });
  }, [path]);

  const nav: [string, string][] = [
    ["/", t("navProblems")],
    ["/history", t("navHistory")],
  ];
  if (user) nav.push(["/me", t("navStats")]);
  if (user?.role === "admin") nav.push(["/admin", t("navAdmin")]);

  return (
    <>
      <a className="skip" href="#main">
        {t("skipToContent")}
      </a>
      <header className="top">
        <Link href="/" className="brand">
          {t("appName")}
        </Link>
        <nav aria-label="Main">
          <ul>
            {nav.map(([href, label]) => (
              <li key={href}>
                <Link href={href} aria-current={href === path || (href !== "/" && path.startsWith(href)) ? "page" : undefined}>
                  {label}
                </Link>
              </li>
            ))}
            <li>
              <a href="/docs">{t("navDocs")}</a>
            </li>
          </ul>
        </nav>
        <div className="account">
          <label className="lang">
            <span className="sr-only">{t("language")}</span>
            <select aria-label={t("language")} value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
              <option value="en">English</option>
              <option value="ko">한국어</option>
            </select>
          </label>
          {user ? (
            <>
              <span className="who">
                {t("signedInAs")} <strong>{user.name}</strong>
              </span>
              <button
                type="button"
                onClick={async () => {
                  await signOut();
                  navigate("/signin");
                }}
              >
                {t("signOut")}
              </button>
            </>
          ) : (
            <>
              <Link href="/signin">{t("signIn")}</Link>
              <Link href="/signup">{t("signUp")}</Link>
            </>
          )}
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {ready ? (
          <Suspense fallback={<Loading />}>
            <Route path={path} />
          </Suspense>
        ) : (
          <Loading />
        )}
      </main>
    </>
  );
}

function Route({ path }: { path: string }) {
  const { t } = useI18n();
  let m: Record<string, string> | null;
  if (path === "/" || path === "/problems") return <SearchPage />;
  if (path === "/signin") return <SignInPage />;
  if (path === "/signup") return <SignUpPage />;
  if ((m = match("/problems/:platform/:problemId", path))) return <ProblemPage key={path} platform={m.platform} problemId={m.problemId} />;
  if (path === "/history") return <HistoryPage />;
  if ((m = match("/executions/:id", path))) return <ExecutionPage key={path} id={m.id} />;
  if (path === "/me") return <MyStatsPage />;
  if ((m = match("/users/:id", path))) return <ProfilePage key={path} userId={m.id} />;
  if (path === "/admin" || path.startsWith("/admin/")) return <AdminPage path={path} />;
  return (
    <section>
      <h1>{t("notFound")}</h1>
      <Link href="/">{t("navProblems")}</Link>
    </section>
  );
}
