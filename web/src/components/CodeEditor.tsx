// CodeMirror 6 with the syntax of the chosen language; the text area is labelled for screen readers.
import { useEffect, useRef } from "react";
import { EditorState, Compartment, type Extension } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import { basicSetup } from "codemirror";
import { indentWithTab } from "@codemirror/commands";

// Each language's syntax loads when it is first picked (the editor works before it arrives).
const syntax = async (lang: string): Promise<Extension> => {
  switch (lang) {
    case "python3":
    case "pypy3":
      return (await import("@codemirror/lang-python")).python();
    case "c":
    case "cpp17":
      return (await import("@codemirror/lang-cpp")).cpp();
    case "java17":
      return (await import("@codemirror/lang-java")).java();
    case "javascript":
      return (await import("@codemirror/lang-javascript")).javascript();
    default:
      return [];
  }
};

interface Props {
  value: string;
  language: string;
  label: string;
  onChange: (v: string) => void;
}

export function CodeEditor({ value, language, label, onChange }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const langSlot = useRef(new Compartment());
  const changed = useRef(onChange);
  changed.current = onChange;

  useEffect(() => {
    const v = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: value,
        extensions: [
          basicSetup,
          keymap.of([indentWithTab]),
          langSlot.current.of([]),
          EditorView.contentAttributes.of({ "aria-label": label }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) changed.current(u.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = v;
    return () => v.destroy();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    let live = true;
    void syntax(language).then((ext) => {
      if (live) view.current?.dispatch({ effects: langSlot.current.reconfigure(ext) });
    });
    return () => {
      live = false;
    };
  }, [language]);

  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
    }
  }, [value]);

  return <div className="editor" ref={host} data-testid="code-editor" />;
}

