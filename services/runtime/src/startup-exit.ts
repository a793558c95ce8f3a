// How a service that cannot start tells its launcher (npm start) why: a
// dependency-free module, so the launcher can import it without loading the
// runtime.

/** Exit code of a service that could not start because of its configuration or a dependency (EX_CONFIG). */
export const STARTUP_PROBLEM_EXIT_CODE = 78;
/** Printed before each problem on stderr, one line each, so a launcher can collect them. */
export const STARTUP_PROBLEM_PREFIX = "cannot start: ";
