/** Process exit codes used by every dstm binary (sysexits-style where one exists). */
export const ExitCode = {
  /** Success. */
  OK: 0,
  /** Runtime failure. */
  FAILURE: 1,
  /** Bad command line. */
  USAGE: 2,
  /** Missing privilege (CAP_NET_ADMIN), as EX_NOPERM. */
  NOPERM: 77,
  /** Bad configuration, as EX_CONFIG. */
  CONFIG: 78,
} as const;
