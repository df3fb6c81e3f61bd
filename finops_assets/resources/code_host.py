"""Which code host and which diff analyzer the pipeline uses: built-in by default, GitHub and
Claude when their credentials are configured (through dg.EnvVar, never in code or config files)."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from finops_assets.lib.analysis.code_analysis import DEFAULT_TIME_LIMIT_SECONDS
from finops_assets.lib.analysis.diff_analysis import DiffAnalysis
from finops_assets.lib.analysis.rule_analyzer import FileReader, analyze_commit
from finops_assets.lib.codehost.host import CodeHost, CommitDiff


class CodeHostResource(dg.ConfigurableResource):
    """`local`: git repositories (or bundles) under repos_dir. `github`: the GitHub REST API through
    PyGithub, with a token or a GitHub App installation."""

    kind: str = Field(default="local", description="local | github")
    repos_dir: str = Field(default="data/repos", description="local: <repos_dir>/<org>/<name> or .bundle")
    github_token: str | None = Field(default=None, description="github: a token (GITHUB_TOKEN)")
    github_app_id: int | None = Field(default=None)
    github_app_private_key: str | None = Field(default=None)
    github_app_installation_id: int | None = Field(default=None)
    github_base_url: str = Field(default="https://api.github.com")

    def host(self) -> CodeHost:
        if self.kind == "local":
            from finops_assets.lib.codehost.local_git import LocalGitCodeHost

            return LocalGitCodeHost(Path(self.repos_dir))
        if self.kind == "github":
            from finops_assets.lib.codehost.github import GitHubCodeHost

            return GitHubCodeHost(self.github_token, app_id=self.github_app_id,
                                  private_key=self.github_app_private_key,
                                  installation_id=self.github_app_installation_id, base_url=self.github_base_url)
        raise ValueError(f"code host kind must be 'local' or 'github', got {self.kind!r}")


class DiffAnalyzerResource(dg.ConfigurableResource):
    """The built-in rule-based analyzer, or Claude (with the rule-based answer as fallback) when an
    Anthropic API key is configured."""

    anthropic_api_key: str | None = Field(default=None, description="ANTHROPIC_API_KEY; unset: rule-based only")
    model: str = Field(default="claude-sonnet-4-5")
    anthropic_base_url: str | None = Field(default=None)
    max_attempts: int = Field(default=3)
    time_limit_seconds: float = Field(default=DEFAULT_TIME_LIMIT_SECONDS, gt=0,
                                      description="Each analysis (diff, analyzer, patch check) past this is "
                                                  "recorded as an error and the others go on")

    @property
    def name(self) -> str:
        return f"claude:{self.model}" if self.anthropic_api_key else "rule_based"

    def analyze(self, diff: CommitDiff, context: dict, read: FileReader) -> DiffAnalysis:
        def rule_based(d: CommitDiff, _context: dict) -> DiffAnalysis:
            return analyze_commit(d, read)

        if not self.anthropic_api_key:
            return rule_based(diff, context)
        from finops_assets.lib.analysis.claude_analyzer import ClaudeDiffAnalyzer

        with ClaudeDiffAnalyzer(self.anthropic_api_key, model=self.model, base_url=self.anthropic_base_url,
                                max_attempts=self.max_attempts) as analyzer:
            return analyzer.analyze(diff, context, fallback=rule_based)
