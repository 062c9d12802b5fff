"""What a fuzz run saw: counts by status, and the exact inputs of every failure kind."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

EXAMPLES_PER_KIND = 3


@dataclass(frozen=True)
class Finding:
    kind: str  # server_error, nonconforming, transport
    operation: str
    status: int | None
    detail: str
    reproduce: str

    def __str__(self) -> str:
        return (
            f"[{self.kind}] {self.operation} -> {self.status}: {self.detail}\n"
            f"    reproduce: {self.reproduce}"
        )


@dataclass
class Tally:
    cases: int = 0
    server_errors: int = 0
    nonconforming: int = 0
    transport_errors: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    signatures: Counter[tuple[str, str, int | None]] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    on_case: Callable[[Tally], None] | None = None

    def answered(self, status: int) -> None:
        self.cases += 1
        self.statuses[status] += 1
        if status >= 500:
            self.server_errors += 1
        if self.on_case:
            self.on_case(self)

    def found(self, finding: Finding) -> None:
        if finding.kind == "nonconforming":
            self.nonconforming += 1
        elif finding.kind == "transport":
            self.transport_errors += 1
        signature = (finding.kind, finding.operation, finding.status)
        self.signatures[signature] += 1
        if self.signatures[signature] <= EXAMPLES_PER_KIND:
            self.findings.append(finding)

    @property
    def clean(self) -> bool:
        return not (self.server_errors or self.nonconforming or self.transport_errors)

    def summary(self) -> str:
        lines = [
            f"cases: {self.cases}",
            f"5xx answers: {self.server_errors}",
            f"answers not matching the document: {self.nonconforming}",
            f"transport errors: {self.transport_errors}",
            "statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items())),
        ]
        for (kind, operation, status), count in sorted(
            self.signatures.items(), key=lambda item: str(item[0])
        ):
            lines.append(f"  {count:>6} x {kind} {operation} -> {status}")
        lines += [str(finding) for finding in self.findings]
        return "\n".join(lines)
