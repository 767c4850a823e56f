"""The sandbox adapter: bubblewrap + an in-box runner + seccomp + cgroup v1 limits."""
