/* md9's command line: one table of commands (modelled on tmux's cmd-*.c
 * entries: a name, aliases, the arguments taken, a usage line and a
 * handler), each with a table of options. An option that sets an md9.conf
 * key names it, and takes its spelling, value name and checks from the
 * settings table (config.c); `md9 run` takes every setting as --KEY VALUE.
 * From these tables come the parser, the usage text and the one-line
 * errors: a bad option prints one line naming it and the command's usage,
 * and exits 2. To add a command: a handler and a row in md9.c's table; to
 * add an option: a row in its command's options. */
#ifndef MD9_CLI_H
#define MD9_CLI_H

#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_MAX_OPTS     24 /* options of one command (not counting settings) */
#define CLI_MAX_SETTINGS 16 /* setting options given on one command line */

struct cli_opt {
	const char *name;    /* --name; NULL ends the table */
	char short_name;     /* -x, or 0 */
	const char *arg;     /* the value's name in the usage ("FILE"); NULL: a switch */
	const char *doc;     /* its usage line; NULL: not shown (for tests) */
	const char *setting; /* sets this md9.conf key: name, short name and arg come from
	                        the settings table when not given here */
	const char *value;   /* with setting, for a switch: the value it sets ("debug") */
	bool number;         /* the value is a number in min..max (md9_number_parse) */
	uint64_t min, max;
};

struct cli_args;

struct cli_command {
	const char *name;           /* "run"; NULL ends the table */
	const char *alias[3];       /* other spellings ("--help", "-h"), NULL-terminated */
	const char *synopsis;       /* after the name in the usage: "[--json]" */
	const char *summary;        /* what it does, for the usage; NULL: not listed */
	const char *title;          /* the options' heading; NULL: "NAME options:" */
	const struct cli_opt *opts; /* NULL-terminated, or NULL */
	bool all_settings;          /* every setting is an option too (--KEY VALUE) */
	int max_args;               /* arguments after the options */
	int (*exec)(const struct cli_args *a);
};

struct cli_args {
	const struct cli_command *cmd;
	const char *value[CLI_MAX_OPTS]; /* by index in cmd->opts; switches: "" */
	struct {
		const char *key, *value;
	} settings[CLI_MAX_SETTINGS]; /* every setting option, in command-line order */
	int nsettings;
	char *const *argv; /* the arguments after the options */
	int argc;
};

/* Find name (or an alias) in table; NULL when there is none. */
const struct cli_command *cli_find(const struct cli_command *table, const char *name);
/* Parse argv (argv[0] is the command's name) into a. 0; or 2 after printing
 * one line on stderr (the bad option, its reason, the command's usage); or
 * 1 when -h or --help asks for the command's help. */
int cli_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_args *a);
/* The value of option `name` (its long name), NULL when not given. */
const char *cli_get(const struct cli_args *a, const char *name);
/* Option `name` as a number (checked by cli_parse); dflt when not given. */
uint64_t cli_number(const struct cli_args *a, const char *name, uint64_t dflt);

/* The whole usage: every command's synopsis, intro, every command's options. */
void cli_usage(FILE *f, const struct cli_command *table, const char *intro, const char *outro);
/* One command's synopsis and options. */
void cli_usage_command(FILE *f, const struct cli_command *cmd, const char *outro);

/* main(): find argv[1] in table, parse, run; unknown commands get one line. */
int cli_main(const struct cli_command *table, const char *intro, const char *outro, int argc,
             char **argv);

#endif
