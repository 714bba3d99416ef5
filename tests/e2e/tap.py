"""TAP-style reporting shared by the end-to-end tests: one line per
check, details under a failure, a summary line at the end."""


class Report:
    def __init__(self, name):
        self.name = name
        self.count = self.failures = 0

    def check(self, ok, title, *detail):
        self.count += 1
        print(f"{'ok' if ok else 'not ok'} {self.count} - {title}")
        if not ok:
            self.failures += 1
            for d in detail:
                print(f"#   {d}")

    def finish(self):
        print(f"# {self.name}: {self.count - self.failures} passed, "
              f"{self.failures} failed, {self.count} total")
        return 1 if self.failures else 0
