#include "cli.h"

#include "number.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Where the options' descriptions start in the usage, and how wide a line
 * may get before the default moves to a line of its own. */
#define DOC_COLUMN 30
#define LINE_MAX_W 100

/* One option as the parser sees it: a row of the command's table, or a
 * setting of the settings table (md9 run). */
struct entry {
	const char *name;
	char short_name;
	const char *arg;
	const char *doc;
	int index;                     /* in cmd->opts, or -1 */
	const struct md9_setting *set; /* the setting it sets, or NULL */
	const struct cli_opt *opt;     /* its row, or NULL */
};

/* Every option of cmd, in the usage's order: its own rows, then (for
 * all_settings) each setting no row names. Returns the count. */
static size_t entries_of(const struct cli_command *cmd, struct entry *e, size_t cap)
{
	size_t n = 0;

	for (int i = 0; cmd->opts && cmd->opts[i].name && n < cap; i++) {
		const struct cli_opt *o = &cmd->opts[i];
		const struct md9_setting *s = o->setting ? md9_config_setting(o->setting) : NULL;

		e[n++] = (struct entry){
		    .name = o->name,
		    .short_name =
		        o->short_name ? o->short_name : (s && !o->value ? s->short_opt : 0),
		    .arg = o->arg ? o->arg : (s && !o->value ? s->arg : NULL),
		    .doc = o->doc,
		    .index = i,
		    .set = s,
		    .opt = o,
		};
	}
	for (size_t k = 0; cmd->all_settings && k < md9_config_nsettings && n < cap; k++) {
		const struct md9_setting *s = &md9_config_settings[k];
		bool named = false;

		for (size_t j = 0; j < n; j++)
			named |= e[j].set == s && (!e[j].opt || !e[j].opt->value);
		if (!named)
			e[n++] = (struct entry){
			    .name = md9_config_option_name(s),
			    .short_name = s->short_opt,
			    .arg = s->arg,
			    .doc = s->doc,
			    .index = -1,
			    .set = s,
			};
	}
	return n;
}

const struct cli_command *cli_find(const struct cli_command *table, const char *name)
{
	for (const struct cli_command *c = table; c->name; c++) {
		if (strcmp(c->name, name) == 0)
			return c;
		for (int i = 0; i < 3 && c->alias[i]; i++)
			if (strcmp(c->alias[i], name) == 0)
				return c;
	}
	return NULL;
}

/* ---- usage ---- */

static void usage_option(FILE *f, const struct entry *e)
{
	char head[96], desc[160] = "";
	int w;

	if (!e->doc)
		return;
	w = snprintf(head, sizeof(head), "  %c%c%s--%s%s%s", e->short_name ? '-' : ' ',
	             e->short_name ? e->short_name : ' ', e->short_name ? ", " : "  ", e->name,
	             e->arg ? " " : "", e->arg ? e->arg : "");
	if (e->set && e->index < 0)
		md9_config_describe(e->set, desc, sizeof(desc));
	if (w >= DOC_COLUMN)
		fprintf(f, "%s\n%*s", head, DOC_COLUMN, "");
	else
		fprintf(f, "%-*s", DOC_COLUMN, head);
	if (!desc[0])
		fprintf(f, "%s\n", e->doc);
	else if (DOC_COLUMN + strlen(e->doc) + strlen(desc) + 3 <= LINE_MAX_W)
		fprintf(f, "%s (%s)\n", e->doc, desc);
	else
		fprintf(f, "%s\n%*s(%s)\n", e->doc, DOC_COLUMN, "", desc);
}

static void usage_options(FILE *f, const struct cli_command *cmd)
{
	struct entry e[CLI_MAX_OPTS + 64];
	size_t n = entries_of(cmd, e, sizeof(e) / sizeof(e[0]));
	bool any = false;

	for (size_t i = 0; i < n; i++)
		any |= e[i].doc != NULL;
	if (!any)
		return;
	if (cmd->title)
		fprintf(f, "\n%s\n", cmd->title);
	else
		fprintf(f, "\n%s options:\n", cmd->name);
	for (size_t i = 0; i < n; i++)
		usage_option(f, &e[i]);
}

static void synopsis(FILE *f, const char *lead, const struct cli_command *c)
{
	char s[96];

	snprintf(s, sizeof(s), "md9 %s%s%s", c->name, c->synopsis ? " " : "",
	         c->synopsis ? c->synopsis : "");
	fprintf(f, "%s%-30s %s\n", lead, s, c->summary);
}

void cli_usage(FILE *f, const struct cli_command *table, const char *intro, const char *outro)
{
	const char *lead = "usage: ";
	bool first = true;

	for (const struct cli_command *c = table; c->name; c++) {
		if (!c->summary)
			continue;
		synopsis(f, lead, c);
		lead = "       ";
	}
	fprintf(f, "%smd9", lead);
	for (const struct cli_command *c = table; c->name; c++) {
		if (c->summary)
			continue;
		fprintf(f, "%s%s", first ? " " : " | ", c->name);
		first = false;
	}
	fprintf(f, "\n\n%s", intro);
	for (const struct cli_command *c = table; c->name; c++)
		usage_options(f, c);
	fprintf(f, "\n%s", outro);
}

void cli_usage_command(FILE *f, const struct cli_command *cmd, const char *outro)
{
	if (cmd->summary)
		synopsis(f, "usage: ", cmd);
	else
		fprintf(f, "usage: md9 %s\n", cmd->name);
	usage_options(f, cmd);
	fprintf(f, "\n%s", outro);
}

/* ---- parsing ---- */

/* One line on stderr, the way every usage error ends. */
static int bad(const struct cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int bad(const struct cli_command *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "md9 %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; usage: md9 %s%s%s (md9 %s --help)\n", cmd->name,
	        cmd->synopsis ? " " : "", cmd->synopsis ? cmd->synopsis : "", cmd->name);
	return 2;
}

/* An option's value: a setting's is checked against the settings table, a
 * number against its range. */
static int check_value(const struct cli_command *cmd, const struct entry *e, const char *v)
{
	char flag[80];
	const char *why;
	uint64_t n;

	snprintf(flag, sizeof(flag), "--%s", e->name);
	if (e->set) {
		struct md9_config scratch;

		md9_config_defaults(&scratch);
		if (md9_config_set(&scratch, e->set->key, v, &why) < 0) {
			fprintf(stderr, "md9 %s: %s %s: %s\n", cmd->name, flag, v, why);
			return 2;
		}
	} else if (e->opt && e->opt->number &&
	           md9_number_parse(v, e->opt->min, e->opt->max, &n) < 0) {
		fprintf(stderr, "md9 %s: %s %s: must be a number from %llu to %llu\n", cmd->name,
		        flag, v, (unsigned long long)e->opt->min, (unsigned long long)e->opt->max);
		return 2;
	}
	return 0;
}

int cli_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_args *a)
{
	struct entry e[CLI_MAX_OPTS + 64];
	size_t n = entries_of(cmd, e, sizeof(e) / sizeof(e[0]));
	struct option longopts[CLI_MAX_OPTS + 64 + 2];
	char shorts[2 * (CLI_MAX_OPTS + 64) + 4];
	size_t ns = 0;
	int c;

	memset(a, 0, sizeof(*a));
	a->cmd = cmd;
	/* ':' first: a missing value is reported as ':', not '?'. */
	shorts[ns++] = ':';
	for (size_t i = 0; i < n; i++) {
		longopts[i] = (struct option){e[i].name, e[i].arg ? required_argument : no_argument,
		                              NULL, 256 + (int)i};
		if (e[i].short_name) {
			shorts[ns++] = e[i].short_name;
			if (e[i].arg)
				shorts[ns++] = ':';
		}
	}
	longopts[n] = (struct option){"help", no_argument, NULL, 'h'};
	longopts[n + 1] = (struct option){0};
	shorts[ns++] = 'h';
	shorts[ns] = '\0';

	opterr = 0;
	optind = 0; /* GNU: start afresh */
	while ((c = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
		const struct entry *hit = NULL;
		const char *v;

		if (c == 'h')
			return 1;
		if (c == '?' || c == ':') {
			char text[96];

			/* glibc: optopt is the option's val, or 0 for an unknown
			 * long option (then argv[optind - 1] is it). */
			if (optopt >= 256)
				snprintf(text, sizeof(text), "--%s", e[optopt - 256].name);
			else if (optopt)
				snprintf(text, sizeof(text), "-%c", optopt);
			else
				snprintf(text, sizeof(text), "%s", argv[optind - 1]);
			if (c == ':')
				return bad(cmd, "option '%s' needs a value", text);
			return bad(cmd, "unknown option '%s'", text);
		}
		if (c >= 256) {
			hit = &e[c - 256];
		} else {
			for (size_t i = 0; i < n && !hit; i++)
				if (e[i].short_name == c)
					hit = &e[i];
		}
		if (!hit)
			return bad(cmd, "unknown option '%s'", argv[optind - 1]);
		v = hit->arg ? optarg : (hit->opt && hit->opt->value ? hit->opt->value : "");
		if (check_value(cmd, hit, v))
			return 2;
		if (hit->index >= 0)
			a->value[hit->index] = v;
		if (hit->set) {
			if (a->nsettings == CLI_MAX_SETTINGS)
				return bad(cmd, "too many settings (at most %d)", CLI_MAX_SETTINGS);
			a->settings[a->nsettings].key = hit->set->key;
			a->settings[a->nsettings].value = v;
			a->nsettings++;
		}
	}
	if (argc - optind > cmd->max_args)
		return bad(cmd, "unexpected argument '%s'", argv[optind + cmd->max_args]);
	a->argv = argv + optind;
	a->argc = argc - optind;
	return 0;
}

const char *cli_get(const struct cli_args *a, const char *name)
{
	for (int i = 0; a->cmd->opts && a->cmd->opts[i].name; i++)
		if (strcmp(a->cmd->opts[i].name, name) == 0)
			return a->value[i];
	return NULL;
}

uint64_t cli_number(const struct cli_args *a, const char *name, uint64_t dflt)
{
	const char *v = cli_get(a, name);
	uint64_t n;

	return v && md9_number_parse(v, 0, UINT64_MAX, &n) == 0 ? n : dflt;
}

int cli_main(const struct cli_command *table, const char *intro, const char *outro, int argc,
             char **argv)
{
	const struct cli_command *cmd = argc > 1 ? cli_find(table, argv[1]) : NULL;
	struct cli_args a;
	char names[160] = "";
	int rc;

	if (!cmd) {
		for (const struct cli_command *c = table; c->name; c++)
			if (c->summary)
				snprintf(names + strlen(names), sizeof(names) - strlen(names),
				         "%s%s", names[0] ? "|" : "", c->name);
		if (argc > 1)
			fprintf(stderr,
			        "md9: unknown command '%s'; usage: md9 %s [options] (md9 --help)\n",
			        argv[1], names);
		else
			fprintf(stderr, "usage: md9 %s [options] (md9 --help)\n", names);
		return 2;
	}
	rc = cli_parse(cmd, argc - 1, argv + 1, &a);
	if (rc == 1) {
		cli_usage_command(stdout, cmd, outro);
		return 0;
	}
	if (rc)
		return rc;
	return cmd->exec(&a);
}
