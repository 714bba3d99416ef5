/* turtles report: the default experiment's tables from a results
 * database (see report.c). */
#ifndef ANALYSIS_REPORT_H
#define ANALYSIS_REPORT_H

/* Prints the tables of the database at `path`. Returns 0, or 1 with a
 * message on stderr. */
int report_main(const char *path);

#endif
