// Languages the judge runs (ids of the API) with their display names and starter code.
export const STARTER: Record<string, string> = {
  python3: "import sys\n\ndef main():\n    data = sys.stdin.read().split()\n    # your solution\n\nmain()\n",
  cpp17:
    "#include <bits/stdc++.h>\nusing namespace std;\n\nint main() {\n    ios::sync_with_stdio(false);\n    cin.tie(nullptr);\n    // your solution\n    return 0;\n}\n",
  c: "#include <stdio.h>\n\nint main(void) {\n    /* your solution */\n    return 0;\n}\n",
  java17:
    "import java.util.*;\nimport java.io.*;\n\npublic class Main {\n    public static void main(String[] args) throws IOException {\n        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));\n        // your solution\n    }\n}\n",
  javascript:
    "const data = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/);\n// your solution\n",
  pypy3: "import sys\n\ndef main():\n    data = sys.stdin.read().split()\n    # your solution\n\nmain()\n",
  go: 'package main\n\nimport (\n\t"bufio"\n\t"fmt"\n\t"os"\n)\n\nfunc main() {\n\tin := bufio.NewReader(os.Stdin)\n\tout := bufio.NewWriter(os.Stdout)\n\tdefer out.Flush()\n\t_ = in\n\tfmt.Fprintln(out) // your solution\n}\n',
  rust: "use std::io::{self, Read, Write};\n\nfn main() {\n    let mut input = String::new();\n    io::stdin().read_to_string(&mut input).unwrap();\n    let mut it = input.split_ascii_whitespace();\n    let out = io::stdout();\n    let mut out = io::BufWriter::new(out.lock());\n    // your solution\n    let _ = (&mut it, writeln!(out));\n}\n",
  kotlin: "import java.io.*\n\nfun main() {\n    val br = BufferedReader(InputStreamReader(System.`in`))\n    // your solution\n}\n",
};

export const LANGUAGE_NAMES: Record<string, string> = {
  python3: "Python 3",
  cpp17: "C++17",
  c: "C",
  java17: "Java 17",
  javascript: "JavaScript (Node.js)",
  pypy3: "PyPy 3",
  go: "Go",
  rust: "Rust",
  kotlin: "Kotlin",
};
