/** A configuration problem at a path, e.g. `{ path: "teps[1].ipv6", message: "..." }`. */
export interface ConfigIssue {
  /** Where in the configuration (JSON path, or `--flag`). */
  path: string;
  /** What is wrong. */
  message: string;
}

/** Thrown when a configuration is invalid; carries every issue found. Binaries exit 78. */
export class ConfigError extends Error {
  /** Every issue, in document order. */
  readonly issues: ConfigIssue[];
  /** Create an error listing `issues`. */
  constructor(issues: ConfigIssue[]) {
    super(
      `invalid configuration: ${
        issues.map((i) => `${i.path || "(top)"}: ${i.message}`).join("; ")
      }`,
    );
    this.name = "ConfigError";
    this.issues = issues;
  }
}
