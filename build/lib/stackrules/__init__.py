"""Rules the stack, the policy pack and stackctl share: how durations are written, when an image
reference is pinned, the project's names and its local state defaults. Plain Python with no
Pulumi dependency, so the policy pack's own virtualenv can import it too."""
