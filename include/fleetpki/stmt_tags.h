/*
 * stmt_tags: the statements of tags and the history reports (store/tag.c, store/report.c), as
 * X(NAME, SQL) rows of the one statement table (statements.h).
 */
#ifndef FLEETPKI_STMT_TAGS_H
#define FLEETPKI_STMT_TAGS_H

#define FOREACH_STMT_TAGS(X)

#endif
