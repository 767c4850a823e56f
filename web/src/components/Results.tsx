// A judged run's result: overall verdict, per-test verdicts as they arrive, compile errors.
import type { Schemas } from "../api/client";
import { useI18n } from "../i18n";
import { Verdict } from "./ui";

type Test = Schemas["TestView"];

export interface LiveExecution {
  execution_id: string;
  status: string;
  verdict?: string | null;
  passed?: number;
  total?: number;
  compile_message?: string;
  detail?: string;
  max_time_ms?: number;
  max_memory_kb?: number;
  tests: Test[];
}

export function ExecutionResult({ ex }: { ex: LiveExecution }) {
  const { t } = useI18n();
  const done = ex.status === "completed";
  return (
    <section className="result" aria-labelledby={`res-${ex.execution_id}`}>
      <h3 id={`res-${ex.execution_id}`}>
        {t("verdict")}: <Verdict v={done ? ex.verdict ?? "completed" : ex.status} />
        {done && ex.total !== undefined && (
          <span className="passed">
            {" "}
            ({ex.passed}/{ex.total})
          </span>
        )}
      </h3>
      <p className="sr-only" aria-live="polite" role="status">
        {done ? `${t("verdict")}: ${ex.verdict ?? ""}` : `${t("status")}: ${ex.status} ${ex.tests.length}`}
      </p>
      {ex.compile_message && (
        <div className="compile">
          <h4>{t("compileError")}</h4>
          <pre tabIndex={0} aria-label={t("compileError")}>
            {ex.compile_message}
          </pre>
        </div>
      )}
      {ex.detail && !ex.compile_message && <p className="detail">{ex.detail}</p>}
      {ex.tests.length > 0 && (
        <div className="scroll">
<table className="tests">
          <caption className="sr-only">{t("testCases")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("test")}</th>
              <th scope="col">{t("verdict")}</th>
              <th scope="col">{t("time")}</th>
              <th scope="col">{t("memory")}</th>
              <th scope="col">{t("details")}</th>
            </tr>
          </thead>
          <tbody>
            {ex.tests.map((x) => (
              <tr key={x.index} data-testid="test-row">
                <td>#{x.index + 1}</td>
                <td>
                  <Verdict v={x.verdict} />
                </td>
                <td>{x.time_ms} ms</td>
                <td>{Math.round(x.memory_kb / 1024)} MB</td>
                <td>
                  {x.input && (
                    <>
                      <span className="io-label">{t("input")}</span>
                      <pre data-testid="test-input">{x.input}</pre>
                    </>
                  )}
                  {x.expected && (
                    <>
                      <span className="io-label">{t("expected")}</span>
                      <pre data-testid="test-expected">{x.expected}</pre>
                    </>
                  )}
                  {x.output && (
                    <>
                      {(x.input || x.expected) && <span className="io-label">{t("actual")}</span>}
                      <pre>{x.output}</pre>
                    </>
                  )}
                  {x.detail && <span className="detail">{x.detail}</span>}
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
