/* Writes md9.conf as the settings table says it (md9_config_template) to the
 * file named by its argument: the build's `md9.conf` target runs it to
 * regenerate packaging/md9.conf after a setting changed. */
#include "config.h"

#include <stdio.h>

int main(int argc, char **argv)
{
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: md9-conf-template OUT\n");
		return 2;
	}
	f = fopen(argv[1], "w");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	md9_config_template(f);
	if (fclose(f) != 0) {
		perror(argv[1]);
		return 1;
	}
	return 0;
}
