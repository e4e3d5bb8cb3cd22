/** dstm's version, read from package.json at build time (bundled into compiled binaries). */
import pkg from "../package.json" with { type: "json" };

/** The product version, e.g. `0.1.0`. */
export const VERSION: string = pkg.version;
