"""The sandbox adapter: bubblewrap + an in-box runner + seccomp + cgroup v2 or v1 limits."""
