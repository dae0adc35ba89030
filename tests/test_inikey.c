/* INI files as md9 reads and edits them: src/ops/inikey.c (the line-level
 * reader and editor), xrdp_ini.c (xrdp.ini's settings) and passwd.c
 * (passwd- and group-format files under a root). */
#include "inikey.h"
#include "passwd.h"
#include "xrdp_ini.h"

#include "tmpdir_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ini[] = "; top comment\n"
                          "top=1\n"
                          "[Globals]\n"
                          "; port=1\n"
                          "Port = 3389\n"
                          "crypt_level=high\n"
                          "port=3390\n"
                          "\n"
                          "[Xorg]\n"
                          "param=Xorg\n"
                          "param=-config\n"
                          "[globals]\n"
                          "port=9\n";

/* The last assignment in the (first) section counts, as in xrdp. */
static void test_get(void **state)
{
	char v[64];

	(void)state;
	assert_true(inikey_get(ini, "Globals", "port", v, sizeof(v)));
	assert_string_equal(v, "3390");
	assert_true(inikey_get_first(ini, "Globals", "PORT", v, sizeof(v)));
	assert_string_equal(v, "3389");
	assert_true(inikey_get_first(ini, "Xorg", "param", v, sizeof(v)));
	assert_string_equal(v, "Xorg");
	assert_true(inikey_get(ini, "", "top", v, sizeof(v)));
	assert_string_equal(v, "1");
	assert_false(inikey_get(ini, "Globals", "security_layer", v, sizeof(v)));
	assert_false(inikey_get(ini, "Logging", "port", v, sizeof(v)));
}

static void test_set(void **state)
{
	bool changed;
	char *t;

	(void)state;
	/* the last assignment is replaced, keeping the key's spelling */
	t = inikey_set(ini, "Globals", "port", "3391", &changed);
	assert_true(changed);
	assert_non_null(strstr(t, "Port = 3389\ncrypt_level=high\nport=3391\n"));
	free(t);
	t = inikey_set(ini, "Globals", "crypt_level", "high", &changed);
	assert_false(changed);
	assert_string_equal(t, ini);
	free(t);
	/* a new key after the section's last assignment */
	t = inikey_set(ini, "Globals", "vmconnect", "true", &changed);
	assert_true(changed);
	assert_non_null(strstr(t, "port=3390\nvmconnect=true\n\n[Xorg]"));
	free(t);
	/* a missing section at the end */
	t = inikey_set("a=1\n", "Chansrv", "FuseMountName", "x", &changed);
	assert_string_equal(t, "a=1\n\n[Chansrv]\nFuseMountName=x\n");
	free(t);
	/* md9.conf: lines before any header count as [md9]; " = " */
	t = inikey_set_in("security = tls\n", "md9", true, "security", " = ", "rdp", &changed);
	assert_string_equal(t, "security = rdp\n");
	free(t);
	t = inikey_set_in("# md9\n[md9]\n#security = auto\n", "md9", true, "security", " = ", "rdp",
	                  &changed);
	assert_string_equal(t, "# md9\n[md9]\nsecurity = rdp\n#security = auto\n");
	free(t);
	t = inikey_set_in("security = tls\n[md9]\nsecurity = auto\n", "md9", true, "security",
	                  " = ", "rdp", &changed);
	assert_string_equal(t, "security = tls\n[md9]\nsecurity = rdp\n");
	free(t);
}

static void test_xrdp_ini(void **state)
{
	struct md9_xrdp_ini x;

	(void)state;
	assert_int_equal(md9_xrdp_ini_read(tmpdir_put_text("xrdp.ini", ini), &x), 0);
	assert_string_equal(x.port, "3390");
	assert_true(x.has_port);
	assert_string_equal(x.crypt_level, "high");
	assert_string_equal(x.security_layer, "negotiate"); /* xrdp's default */
	assert_false(x.has_security_layer);
	assert_false(x.vmconnect);
	assert_int_equal(
	    md9_xrdp_ini_read(tmpdir_put_text("v.ini", "[Globals]\nvmconnect=Yes\nuse_vsock=2\n"),
	                      &x),
	    0);
	assert_true(x.vmconnect && x.use_vsock);
	assert_true(md9_xrdp_ini_read("/nonexistent/xrdp.ini", &x) < 0);
	assert_string_equal(x.port, "3389");
	assert_true(md9_xrdp_ini_true("On"));
	assert_false(md9_xrdp_ini_true("0"));
	assert_false(md9_xrdp_ini_true("maybe"));
}

static void test_passwd(void **state)
{
	const char *pw = tmpdir_put_text("passwd", "root:x:0:0:root:/root:/bin/bash\n"
	                                           "md9:x:999:998::/nonexistent:/usr/sbin/nologin\n"
	                                           "odd:x:+5:5::/:/bin/false\n");
	const char *gr =
	    tmpdir_put_text("group", "root:x:0:\nmd9-status:x:997:md9,alice\nxrdp:x:109:\n");
	char name[32];

	(void)state;
	assert_int_equal(md9_passwd_id(pw, "md9"), 999);
	assert_int_equal(md9_passwd_id(pw, "md"), -1);
	assert_int_equal(md9_passwd_id(pw, "odd"), -1); /* not a number */
	assert_int_equal(md9_passwd_id("/nonexistent/passwd", "root"), -1);
	assert_true(md9_passwd_name(gr, 109, name, sizeof(name)));
	assert_string_equal(name, "xrdp");
	assert_false(md9_passwd_name(gr, 5, name, sizeof(name)));
	assert_int_equal(md9_passwd_member(gr, "md9-status", "md9"), 1);
	assert_int_equal(md9_passwd_member(gr, "md9-status", "alic"), 0);
	assert_int_equal(md9_passwd_member(gr, "xrdp", "md9"), 0);
	assert_int_equal(md9_passwd_member(gr, "nogroup", "md9"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_get),
	    cmocka_unit_test(test_set),
	    cmocka_unit_test(test_xrdp_ini),
	    cmocka_unit_test(test_passwd),
	};

	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
