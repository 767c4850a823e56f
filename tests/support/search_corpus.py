"""A search corpus and relevance judgements: 200+ problems (Korean, Japanese and English
titles, ids, tags) and 50+ queries with the problems that should come back.

Shared by the relevance integration test and bench/search_latency.py.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

from algoitny_shared.events import REGISTRY, EventEnvelope
from algoitny_shared.events.catalog import ProblemCreated

CURATED: list[tuple[str, str, str, list[str]]] = [
    ("baekjoon", "1000", "A+B", ["math", "implementation"]),
    ("baekjoon", "1920", "수 찾기", ["binary-search"]),
    ("baekjoon", "11053", "가장 긴 증가하는 부분 수열", ["dp"]),
    ("baekjoon", "12015", "가장 긴 증가하는 부분 수열 2", ["binary-search", "lis"]),
    ("baekjoon", "1260", "DFS와 BFS", ["graphs", "bfs", "dfs"]),
    ("baekjoon", "2178", "미로 탐색", ["graphs", "bfs"]),
    ("baekjoon", "1753", "최단경로", ["graphs", "dijkstra"]),
    ("baekjoon", "9663", "N-Queen", ["backtracking"]),
    ("baekjoon", "1149", "RGB거리", ["dp"]),
    ("baekjoon", "2579", "계단 오르기", ["dp"]),
    ("baekjoon", "1463", "1로 만들기", ["dp"]),
    ("baekjoon", "11726", "2×n 타일링", ["dp"]),
    ("baekjoon", "7576", "토마토", ["graphs", "bfs"]),
    ("baekjoon", "2606", "바이러스", ["graphs"]),
    ("baekjoon", "1012", "유기농 배추", ["graphs", "dfs"]),
    ("baekjoon", "10828", "스택", ["data-structures", "stack"]),
    ("baekjoon", "1697", "숨바꼭질", ["bfs"]),
    ("baekjoon", "11404", "플로이드", ["graphs", "floyd-warshall"]),
    ("baekjoon", "1931", "회의실 배정", ["greedy"]),
    ("baekjoon", "11047", "동전 0", ["greedy"]),
    ("baekjoon", "2751", "수 정렬하기 2", ["sorting"]),
    ("baekjoon", "1181", "단어 정렬", ["sorting", "strings"]),
    ("baekjoon", "9012", "괄호", ["stack", "strings"]),
    ("baekjoon", "1504", "특정한 최단 경로", ["graphs", "dijkstra"]),
    ("baekjoon", "2805", "나무 자르기", ["binary-search"]),
    ("baekjoon", "1654", "랜선 자르기", ["binary-search"]),
    ("baekjoon", "14502", "연구소", ["bfs", "brute-force"]),
    ("baekjoon", "16236", "아기 상어", ["simulation", "bfs"]),
    ("baekjoon", "3190", "뱀", ["simulation"]),
    ("codeforces", "4A", "Watermelon", ["math", "brute-force"]),
    ("codeforces", "1520A", "Do Not Be Distracted!", ["implementation"]),
    ("codeforces", "71A", "Way Too Long Words", ["strings"]),
    ("codeforces", "158A", "Next Round", ["implementation"]),
    ("codeforces", "231A", "Team", ["greedy"]),
    ("codeforces", "282A", "Bit++", ["implementation"]),
    ("codeforces", "263A", "Beautiful Matrix", ["implementation"]),
    ("codeforces", "339A", "Helpful Maths", ["greedy", "strings"]),
    ("codeforces", "1A", "Theatre Square", ["math"]),
    ("codeforces", "118A", "String Task", ["strings"]),
    ("codeforces", "112A", "Petya and Strings", ["strings"]),
    ("codeforces", "266A", "Stones on the Table", ["implementation"]),
    ("codeforces", "977A", "Wrong Subtraction", ["implementation"]),
    ("codeforces", "1352C", "K-th Not Divisible by n", ["math", "binary-search"]),
    ("codeforces", "1200B", "Block Adventure", ["dp", "greedy"]),
    ("codeforces", "580C", "Kefa and Park", ["dfs", "trees"]),
    ("codeforces", "20C", "Dijkstra?", ["graphs", "shortest-paths"]),
    ("codeforces", "466C", "Number of Ways", ["binary-search", "two-pointers"]),
    ("codeforces", "455A", "Boredom", ["dp"]),
    ("codeforces", "520B", "Two Buttons", ["bfs", "graphs"]),
    ("atcoder", "abc086_a", "Product", ["math"]),
    ("atcoder", "abc081_b", "Shift only", ["math"]),
    ("atcoder", "arc065_a", "Daydream", ["strings", "greedy"]),
    ("atcoder", "abc049_c", "白昼夢", ["strings"]),
    # Numbers attached to or apart from Korean words, with their real neighbours on Baekjoon.
    ("baekjoon", "2161", "카드1", ["queue"]),
    ("baekjoon", "2164", "카드2", ["queue"]),
    ("baekjoon", "16194", "카드 구매하기 2", ["dp"]),
    ("baekjoon", "15649", "N과 M (1)", ["backtracking"]),
    ("baekjoon", "15650", "N과 M (2)", ["backtracking"]),
    ("baekjoon", "15651", "N과 M (3)", ["backtracking"]),
    ("baekjoon", "15663", "N과 M (9)", ["backtracking"]),
    # LeetCode: numeric ids (one shared with Baekjoon's A+B), problem pages named by title slug.
    ("leetcode", "1", "Two Sum", ["hash-table"]),
    ("leetcode", "20", "Valid Parentheses", ["stack", "strings"]),
    ("leetcode", "50", "Pow(x, n)", ["math", "recursion"]),
    ("leetcode", "1000", "Minimum Cost to Merge Stones", ["dp"]),
]

# Fillers use words and tags none of the judged queries ask for: they are the haystack.
_ADJ = ["Balanced", "Magic", "Ancient", "Frozen", "Lucky", "Hidden", "Tiny", "Royal", "Silent", "Crimson", "Golden"]
_NOUN = ["Array", "Garden", "Robots", "Candies", "Bridges", "Towers", "Segments", "Lanterns", "Puzzle", "Journey"]
_KO_A = ["큰", "작은", "빠른", "이상한", "즐거운", "새로운", "오래된"]
_KO_B = ["트리", "게임", "배열", "카드", "상자", "로봇", "기차", "섬", "다리", "사탕", "편지"]
_FILLER_TAGS = ["ad-hoc", "constructive", "geometry", "number-theory", "combinatorics", "games", "bitmasks", "hashing"]
LANGUAGES = ["python", "cpp", "java", None]


def corpus(fillers: int = 180, seed: int = 7) -> list[tuple[str, str, str, list[str]]]:
    rng = random.Random(seed)
    out = list(CURATED)
    titles = {t for _, _, t, _ in CURATED}
    i = 0
    while len(out) < len(CURATED) + fillers:
        i += 1
        if i % 2:
            title = f"{rng.choice(_ADJ)} {rng.choice(_NOUN)} {rng.choice(['', 'II', 'Queries', 'Game'])}".strip()
            platform, pid = "codeforces", f"{1700 + i // 3}{'BCD'[i % 3]}"
        else:
            title = f"{rng.choice(_KO_A)} {rng.choice(_KO_B)} {rng.choice(['', '2', '만들기', '놀이'])}".strip()
            platform, pid = "baekjoon", str(20000 + i)
        if title in titles:
            continue
        titles.add(title)
        out.append((platform, pid, title, rng.sample(_FILLER_TAGS, 2)))
    return out


def envelope_of(
    platform: str, pid: str, title: str, tags: list[str], n: int = 0, version: int = 1, status: str = "completed"
) -> EventEnvelope:
    now = datetime.now(UTC)
    payload = ProblemCreated(
        platform=platform,
        problem_id=pid,
        title=title,
        tags=tags,
        language=LANGUAGES[n % len(LANGUAGES)],
        status=status,
        created_at=now,
        updated_at=now,
    )
    return REGISTRY.envelope(payload, producer="problems", aggregate_id=f"{platform}/{pid}", aggregate_version=version)


@dataclass(frozen=True)
class Judged:
    query: str
    relevant: tuple[str, ...]  # keys; the first is the best answer
    kind: str


def _j(query: str, kind: str, *keys: str) -> Judged:
    return Judged(query, keys, kind)


BS = ("baekjoon/1920", "baekjoon/12015", "baekjoon/2805", "baekjoon/1654", "codeforces/1352C", "codeforces/466C")
JUDGEMENTS: list[Judged] = [
    _j("1000", "id", "baekjoon/1000"),
    _j("1920", "id", "baekjoon/1920"),
    _j("1520A", "id", "codeforces/1520A"),
    _j("1520a", "id", "codeforces/1520A"),
    _j("4A", "id", "codeforces/4A"),
    _j("1520", "id-prefix", "codeforces/1520A"),
    _j("11053", "id", "baekjoon/11053"),
    _j("abc049", "id-prefix", "atcoder/abc049_c"),
    _j("수 찾기", "korean", "baekjoon/1920"),
    _j("찾기", "korean-part", "baekjoon/1920"),
    _j("증가하는 부분", "korean-part", "baekjoon/11053", "baekjoon/12015"),
    _j("부분 수열", "korean-part", "baekjoon/11053", "baekjoon/12015"),
    _j("가장 긴 증가하는 부분 수열", "korean", "baekjoon/11053", "baekjoon/12015"),
    _j("부분수열", "korean-part", "baekjoon/11053", "baekjoon/12015"),
    _j("최단경로", "korean", "baekjoon/1753", "baekjoon/1504"),
    _j("최단 경로", "korean", "baekjoon/1504", "baekjoon/1753"),
    _j("미로", "korean-part", "baekjoon/2178"),
    _j("토마토", "korean", "baekjoon/7576"),
    _j("배추", "korean-part", "baekjoon/1012"),
    _j("숨바꼭질", "korean", "baekjoon/1697"),
    _j("회의실", "korean-part", "baekjoon/1931"),
    _j("나무 자르기", "korean", "baekjoon/2805", "baekjoon/1654"),
    _j("자르기", "korean-part", "baekjoon/2805", "baekjoon/1654"),
    _j("계단", "korean-part", "baekjoon/2579"),
    _j("아기 상어", "korean", "baekjoon/16236"),
    _j("상어", "korean-part", "baekjoon/16236"),
    _j("타일링", "korean-part", "baekjoon/11726"),
    _j("1로 만들기", "korean", "baekjoon/1463"),
    _j("동전", "korean-part", "baekjoon/11047"),
    _j("단어 정렬", "korean", "baekjoon/1181"),
    _j("정렬", "korean-part", "baekjoon/1181", "baekjoon/2751"),
    _j("DFS와 BFS", "mixed", "baekjoon/1260"),
    _j("白昼夢", "japanese", "atcoder/abc049_c"),
    _j("watermelon", "english", "codeforces/4A"),
    _j("Theatre Square", "english", "codeforces/1A"),
    _j("Way Too Long", "english", "codeforces/71A"),
    _j("long words", "english", "codeforces/71A"),
    _j("petya strings", "english", "codeforces/112A"),
    _j("Do Not Be Distracted", "english", "codeforces/1520A"),
    _j("distracted", "english", "codeforces/1520A"),
    _j("kefa", "english", "codeforces/580C"),
    _j("two buttons", "english", "codeforces/520B"),
    _j("boredom", "english", "codeforces/455A"),
    _j("daydream", "english", "atcoder/arc065_a"),
    _j("stones table", "english", "codeforces/266A"),
    _j("K-th Not Divisible", "english", "codeforces/1352C"),
    _j("distr", "english-prefix", "codeforces/1520A"),
    _j("water", "english-prefix", "codeforces/4A"),
    _j("theat squ", "english-prefix", "codeforces/1A"),
    _j("watermelom", "typo", "codeforces/4A"),
    _j("theater square", "typo", "codeforces/1A"),
    _j("Petya and Strngs", "typo", "codeforces/112A"),
    _j("beautifull matrix", "typo", "codeforces/263A"),
    _j("boredum", "typo", "codeforces/455A"),
    _j("wrong subtraktion", "typo", "codeforces/977A"),
    _j("Bit++", "syntax", "codeforces/282A"),
    _j("A+B", "syntax", "baekjoon/1000"),
    _j("Dijkstra?", "syntax", "codeforces/20C"),
    _j("N-Queen", "syntax", "baekjoon/9663"),
    _j("binary-search", "tag", *BS),
    _j("dijkstra", "tag", "codeforces/20C", "baekjoon/1753", "baekjoon/1504"),
    _j("backtracking", "tag", "baekjoon/9663", "baekjoon/15649", "baekjoon/15650", "baekjoon/15651", "baekjoon/15663"),
    # Issue 20, written before tuning. A platform name or nickname in front of the id, with or
    # without a space, any case.
    _j("boj 1000", "platform-id", "baekjoon/1000"),
    _j("BOJ 2178", "platform-id", "baekjoon/2178"),
    _j("boj1000", "platform-id", "baekjoon/1000"),
    _j("백준 1920", "platform-id", "baekjoon/1920"),
    _j("백준1753", "platform-id", "baekjoon/1753"),
    _j("acmicpc 9663", "platform-id", "baekjoon/9663"),
    _j("cf 4A", "platform-id", "codeforces/4A"),
    _j("CF4A", "platform-id", "codeforces/4A"),
    _j("cf 4a", "platform-id", "codeforces/4A"),
    _j("codeforces 1A", "platform-id", "codeforces/1A"),
    _j("Codeforces1520A", "platform-id", "codeforces/1520A"),
    _j("cf 158 A", "platform-id", "codeforces/158A"),
    _j("lc 1000", "platform-id", "leetcode/1000"),
    _j("leetcode 1", "platform-id", "leetcode/1"),
    _j("LC20", "platform-id", "leetcode/20"),
    _j("1", "id", "leetcode/1"),
    # "Problem number 1000" the Korean way (번: number).
    _j("백준 1000번", "platform-id", "baekjoon/1000"),
    _j("boj 11053번", "platform-id", "baekjoon/11053"),
    _j("2178번", "id", "baekjoon/2178"),
    # Pasted problem pages.
    _j("https://www.acmicpc.net/problem/2178", "url", "baekjoon/2178"),
    _j("acmicpc.net/problem/1000", "url", "baekjoon/1000"),
    _j("https://www.acmicpc.net/problem/11053", "url", "baekjoon/11053"),
    _j("https://codeforces.com/problemset/problem/4/A", "url", "codeforces/4A"),
    _j("https://codeforces.com/contest/1520/problem/A", "url", "codeforces/1520A"),
    _j("http://codeforces.com/contest/71/problem/A?locale=en", "url", "codeforces/71A"),
    _j("https://leetcode.com/problems/two-sum/", "url", "leetcode/1"),
    _j("https://leetcode.com/problems/valid-parentheses/description/", "url", "leetcode/20"),
    _j("https://leetcode.com/problems/powx-n/", "url", "leetcode/50"),
    # A number attached to or apart from the Korean word it belongs to.
    _j("카드 2", "hangul-number", "baekjoon/2164"),
    _j("카드2", "hangul-number", "baekjoon/2164"),
    _j("카드 1", "hangul-number", "baekjoon/2161"),
    _j("n과 m 1", "hangul-number", "baekjoon/15649"),
    _j("N과 M (1)", "hangul-number", "baekjoon/15649"),
    _j("N과 M(2)", "hangul-number", "baekjoon/15650"),
    _j("n과m 3", "hangul-number", "baekjoon/15651"),
    _j("n과 m 9", "hangul-number", "baekjoon/15663"),
    _j("가장 긴 증가하는 부분 수열2", "hangul-number", "baekjoon/12015"),
    _j("수 정렬하기2", "hangul-number", "baekjoon/2751"),
    _j("동전0", "hangul-number", "baekjoon/11047"),
    _j("rgb 거리", "hangul-number", "baekjoon/1149"),
    _j("1로만들기", "hangul-number", "baekjoon/1463"),
    _j("two sum", "english", "leetcode/1"),
]
