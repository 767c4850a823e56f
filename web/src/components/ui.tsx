// Shared pieces: loading and empty states, errors as sentences, verdict words.
import { useEffect, useState } from "react";
import { ApiError } from "../api/client";
import { useI18n, type Lang } from "../i18n";

export function Loading() {
  const { t } = useI18n();
  return (
    <p className="loading" role="status" aria-live="polite">
      {t("loading")}
    </p>
  );
}

export function Empty({ text }: { text?: string }) {
  const { t } = useI18n();
  return <p className="empty">{text ?? t("empty")}</p>;
}

const SENTENCES: Record<Lang, Record<number, string>> = {
  en: {
    0: "The platform could not be reached. Check your connection and try again.",
    400: "The request was not accepted.",
    401: "Please sign in to do this.",
    403: "You are not allowed to do this.",
    404: "This was not found.",
    409: "This conflicts with what is already there.",
    413: "This is too large to send.",
    422: "Some fields are not valid.",
    429: "You have used up your quota for now.",
    500: "The platform had an unexpected problem; it has been logged.",
    503: "A part of the platform is unavailable; please try again shortly.",
    504: "The platform did not answer in time; please try again.",
  },
  ko: {
    0: "플랫폼에 연결할 수 없습니다. 연결을 확인하고 다시 시도하세요.",
    400: "요청을 받아들일 수 없습니다.",
    401: "로그인이 필요합니다.",
    403: "이 작업을 할 권한이 없습니다.",
    404: "찾을 수 없습니다.",
    409: "이미 있는 내용과 충돌합니다.",
    413: "보내기에 너무 큽니다.",
    422: "올바르지 않은 입력이 있습니다.",
    429: "지금은 사용량을 모두 썼습니다.",
    500: "플랫폼에 예기치 않은 문제가 생겼습니다. 기록되었습니다.",
    503: "플랫폼의 일부를 사용할 수 없습니다. 잠시 후 다시 시도하세요.",
    504: "플랫폼이 제때 응답하지 않았습니다. 다시 시도하세요.",
  },
};

export function formatTime(iso: string | null | undefined, lang: Lang): string {
  if (!iso) return "";
  return new Date(iso).toLocaleString(lang === "ko" ? "ko-KR" : "en-GB", {
    dateStyle: "medium",
    timeStyle: "short",
  });
}

/** One human sentence for an API error: the status's sentence, the reason, and a reset time. */
export function errorSentence(err: unknown, lang: Lang): string {
  if (!(err instanceof ApiError)) return SENTENCES[lang][500];
  const base = SENTENCES[lang][err.status] ?? SENTENCES[lang][err.status >= 500 ? 500 : 400];
  const parts = [base];
  const fieldErrors = Array.isArray(err.body.errors) ? (err.body.errors as { loc?: unknown[]; msg?: string }[]) : [];
  if (fieldErrors.length) {
    parts.push(
      fieldErrors
        .slice(0, 3)
        .map((e) => `${(e.loc ?? []).filter((x) => x !== "body").join(".")}: ${e.msg ?? ""}`)
        .join("; ") + ".",
    );
  } else if (err.detail && err.status !== 0) {
    parts.push(err.detail.endsWith(".") ? err.detail : `${err.detail}.`);
  }
  if (err.status === 429) {
    // The quota's reset time, from the answer's reset_at or its Retry-After seconds.
    const reset =
      typeof err.body.reset_at === "string"
        ? err.body.reset_at
        : err.retryAfterS !== null
          ? new Date(Date.now() + err.retryAfterS * 1000).toISOString()
          : null;
    if (reset) parts.push(lang === "ko" ? `초기화 시각: ${formatTime(reset, lang)}.` : `It resets at ${formatTime(reset, lang)}.`);
  }
  return parts.join(" ");
}

export function ErrorMessage({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { lang, t } = useI18n();
  if (!error) return null;
  return (
    <div className="error" role="alert">
      <p>{errorSentence(error, lang)}</p>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          {t("retry")}
        </button>
      )}
    </div>
  );
}

const VERDICTS: Record<Lang, Record<string, string>> = {
  en: {
    AC: "Accepted",
    WA: "Wrong answer",
    TLE: "Time limit exceeded",
    MLE: "Memory limit exceeded",
    OLE: "Output limit exceeded",
    RE: "Runtime error",
    CE: "Compile error",
    IE: "Internal error",
    SK: "Skipped",
    ILE: "Idleness limit exceeded",
    OK: "Ran successfully",
    queued: "Queued",
    running: "Running",
    completed: "Completed",
  },
  ko: {
    AC: "맞았습니다",
    WA: "틀렸습니다",
    TLE: "시간 초과",
    MLE: "메모리 초과",
    OLE: "출력 초과",
    RE: "런타임 에러",
    CE: "컴파일 에러",
    IE: "내부 오류",
    SK: "건너뜀",
    ILE: "입력 대기 시간 초과",
    OK: "정상 실행",
    queued: "대기 중",
    running: "채점 중",
    completed: "완료",
  },
};

export function verdictWord(v: string | null | undefined, lang: Lang): string {
  if (!v) return "";
  return VERDICTS[lang][v] ?? v;
}

/** A verdict as a word (with a symbol); the colour only repeats what the word says. */
export function Verdict({ v }: { v: string | null | undefined }) {
  const { lang } = useI18n();
  if (!v) return null;
  const good = v === "AC" || v === "OK";
  const pending = v === "queued" || v === "running";
  return (
    <span className={`verdict ${good ? "good" : pending ? "pending" : "bad"}`} data-verdict={v}>
      <span aria-hidden="true">{good ? "✓ " : pending ? "… " : "✗ "}</span>
      {verdictWord(v, lang)}
    </span>
  );
}

/** Data of an async loader with loading/error/reload. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    setError(null);
    load()
      .then((d) => live && setData(d))
      .catch((e) => live && setError(e))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, n]);
  return { data, error, loading, reload: () => setN((x) => x + 1), setData };
}

/** A horizontal bar chart of label -> count, readable as a table too. */
export function BarChart({ title, data, ordered = false }: { title: string; data: Record<string, number>; ordered?: boolean }) {
  // By size, unless the labels have an order of their own (days).
  const entries = ordered ? Object.entries(data) : Object.entries(data).sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...entries.map(([, v]) => v));
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      {entries.length === 0 ? (
        <Empty />
      ) : (
        <table>
          <tbody>
            {entries.map(([k, v]) => (
              <tr key={k}>
                <th scope="row">{k}</th>
                <td>
                  <span className="bar" style={{ width: `${(75 * v) / max}%` }} aria-hidden="true" />
                  <span className="bar-value">{v}</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </figure>
  );
}
