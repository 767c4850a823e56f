import { useState, type FormEvent } from "react";
import { api, ok } from "../api/client";
import { useAuth } from "../auth";
import { useI18n } from "../i18n";
import { Link, navigate, useLocation } from "../router";
import { ErrorMessage } from "../components/ui";

const CONSENT_VERSION = "2025-01";

function next(url: URL): string {
  const n = url.searchParams.get("next");
  return n && n.startsWith("/") && !n.startsWith("//") ? n : "/";
}

export function SignInPage() {
  const { t } = useI18n();
  const { signIn } = useAuth();
  const url = useLocation();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      signIn(await ok(api.POST("/api/v1/auth/login", { body: { email, password } })));
      navigate(next(url));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="narrow">
      <h1>{t("signIn")}</h1>
      <form onSubmit={submit}>
        <label>
          {t("email")}
          <input type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          {t("password")}
          <input
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <ErrorMessage error={error} />
        <button type="submit" disabled={busy}>
          {t("signIn")}
        </button>
      </form>
      <p>
        {t("noAccount")} <Link href="/signup">{t("signUp")}</Link>
      </p>
    </section>
  );
}

export function SignUpPage() {
  const { t } = useI18n();
  const { signIn } = useAuth();
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [terms, setTerms] = useState(false);
  const [privacy, setPrivacy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const pair = await ok(api.POST("/api/v1/auth/register", { body: { email, name, password } }));
      signIn(pair);
      for (const kind of ["terms", "privacy"] as const) {
        await ok(api.POST("/api/v1/me/consents", { body: { kind, version: CONSENT_VERSION } }));
      }
      navigate("/");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="narrow">
      <h1>{t("signUp")}</h1>
      <form onSubmit={submit}>
        <label>
          {t("displayName")}
          <input autoComplete="nickname" required value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          {t("email")}
          <input type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          {t("password")}
          <input
            type="password"
            autoComplete="new-password"
            required
            minLength={8}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <label className="check">
          <input type="checkbox" required checked={terms} onChange={(e) => setTerms(e.target.checked)} />
          {t("consentTerms")}
        </label>
        <label className="check">
          <input type="checkbox" required checked={privacy} onChange={(e) => setPrivacy(e.target.checked)} />
          {t("consentPrivacy")}
        </label>
        <ErrorMessage error={error} />
        <button type="submit" disabled={busy}>
          {t("signUp")}
        </button>
      </form>
      <p>
        {t("haveAccount")} <Link href="/signin">{t("signIn")}</Link>
      </p>
    </section>
  );
}
