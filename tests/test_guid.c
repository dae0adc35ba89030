/* GUID text <-> VMBus (Windows) byte layout (src/vmbus/guid.c). */
#include "guid.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static const char *control_class_text = "f8e65716-3cb3-4a06-9a60-1889c5cccab5";
static const char *control_instance_text = "99221fa0-24ad-11e2-be98-001aa01bbf6e";
static const char *data_class_text = "f9e9c0d3-b511-4a48-8046-d38079a8830c";

static void expect_text(const struct md9_guid *g, const char *text)
{
	char buf[MD9_GUID_STRLEN];

	memset(buf, 'x', sizeof(buf));
	assert_ptr_equal(md9_guid_format(g, buf), buf);
	assert_string_equal(buf, text);
	assert_int_equal(strlen(buf), MD9_GUID_STRLEN - 1);
}

/* The known GUIDs format as protocol.md §2 writes them. */
static void test_known_guids_format(void **state)
{
	(void)state;
	expect_text(&md9_guid_control_class, control_class_text);
	expect_text(&md9_guid_control_instance, control_instance_text);
	expect_text(&md9_guid_data_class, data_class_text);
}

/* Windows layout: Data1/2/3 little-endian, Data4 in order. */
static void test_windows_byte_order(void **state)
{
	static const uint8_t want[16] = {0x16, 0x57, 0xe6, 0xf8, 0xb3, 0x3c, 0x06, 0x4a,
					 0x9a, 0x60, 0x18, 0x89, 0xc5, 0xcc, 0xca, 0xb5};
	struct md9_guid g;

	(void)state;
	assert_memory_equal(md9_guid_control_class.b, want, 16);
	assert_int_equal(md9_guid_parse("00112233-4455-6677-8899-aabbccddeeff", &g), 0);
	static const uint8_t seq[16] = {0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66,
					0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
	assert_memory_equal(g.b, seq, 16);
}

static void test_parse_format_round_trip(void **state)
{
	const char *texts[] = {control_class_text, control_instance_text, data_class_text,
			       "00000000-0000-0000-0000-000000000000",
			       "ffffffff-ffff-ffff-ffff-ffffffffffff",
			       "0123abcd-4567-89ef-fedc-ba9876543210"};
	struct md9_guid g;
	char buf[MD9_GUID_STRLEN];

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		memset(&g, 0x5a, sizeof(g));
		assert_int_equal(md9_guid_parse(texts[i], &g), 0);
		assert_string_equal(md9_guid_format(&g, buf), texts[i]);
	}
	/* And bytes -> text -> bytes for every byte value in every position. */
	for (unsigned v = 0; v < 256; v++) {
		struct md9_guid a, b;
		for (unsigned k = 0; k < 16; k++)
			a.b[k] = (uint8_t)(v + k * 17);
		assert_int_equal(md9_guid_parse(md9_guid_format(&a, buf), &b), 0);
		assert_true(md9_guid_eq(&a, &b));
	}
}

static void test_parse_case_and_braces(void **state)
{
	struct md9_guid g;

	(void)state;
	assert_int_equal(md9_guid_parse("F8E65716-3CB3-4A06-9A60-1889C5CCCAB5", &g), 0);
	assert_true(md9_guid_eq(&g, &md9_guid_control_class));
	assert_int_equal(md9_guid_parse("{f8e65716-3cb3-4a06-9a60-1889c5cccab5}", &g), 0);
	assert_true(md9_guid_eq(&g, &md9_guid_control_class));
	assert_int_equal(md9_guid_parse("{F9e9C0d3-B511-4a48-8046-D38079A8830c}", &g), 0);
	assert_true(md9_guid_eq(&g, &md9_guid_data_class));
}

static void test_parse_rejects_malformed(void **state)
{
	const char *bad[] = {
		"",
		"f8e65716-3cb3-4a06-9a60-1889c5cccab",    /* 35 characters */
		"f8e65716-3cb3-4a06-9a60-1889c5cccab55",  /* 37 characters */
		"f8e657163cb34a069a601889c5cccab5",       /* no dashes */
		"f8e65716-3cb3-4a06-9a601-889c5cccab5",   /* dash misplaced */
		"f8e65716_3cb3-4a06-9a60-1889c5cccab5",   /* wrong separator */
		"g8e65716-3cb3-4a06-9a60-1889c5cccab5",   /* not hex */
		"f8e65716-3cb3-4a06-9a60-1889c5cccabz",   /* not hex, last */
		"f8e65716-3cb3-4a06-9a60-1889c5cc ab5",   /* space */
		"{f8e65716-3cb3-4a06-9a60-1889c5cccab5",  /* brace unmatched */
		"f8e65716-3cb3-4a06-9a60-1889c5cccab5}",  /* brace unmatched */
		"(f8e65716-3cb3-4a06-9a60-1889c5cccab5)", /* wrong brackets */
		"{{f8e65716-3cb3-4a06-9a60-1889c5cccab5}}",
		"-f8e65716-3cb3-4a06-9a60-1889c5cccab5",
		"+8e65716-3cb3-4a06-9a60-1889c5cccab5",
	};
	struct md9_guid g;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&g, 0, sizeof(g));
		assert_int_equal(md9_guid_parse(bad[i], &g), -1);
	}
}

static void test_data_instances(void **state)
{
	static const char *want[MD9_DATA_INSTANCES] = {
		"99221fa1-24ad-11e2-be98-001aa01bbf6e", "99221fa2-24ad-11e2-be98-001aa01bbf6e",
		"99221fa3-24ad-11e2-be98-001aa01bbf6e", "99221fa4-24ad-11e2-be98-001aa01bbf6e",
		"99221fa5-24ad-11e2-be98-001aa01bbf6e"};
	struct md9_guid g;

	(void)state;
	for (unsigned i = 0; i < MD9_DATA_INSTANCES; i++) {
		md9_guid_data_instance(i, &g);
		expect_text(&g, want[i]);
		assert_int_equal(md9_guid_data_instance_index(&g), (int)i);
		assert_int_equal(md9_guid_parse(want[i], &g), 0);
		assert_int_equal(md9_guid_data_instance_index(&g), (int)i);
	}
	/* Neither the control instance nor neighbours nor other GUIDs are data instances. */
	assert_int_equal(md9_guid_data_instance_index(&md9_guid_control_instance), -1);
	assert_int_equal(md9_guid_data_instance_index(&md9_guid_control_class), -1);
	assert_int_equal(md9_guid_data_instance_index(&md9_guid_data_class), -1);
	assert_int_equal(md9_guid_parse("99221fa6-24ad-11e2-be98-001aa01bbf6e", &g), 0);
	assert_int_equal(md9_guid_data_instance_index(&g), -1);
	assert_int_equal(md9_guid_parse("99221fa1-24ad-11e2-be98-001aa01bbf6f", &g), 0);
	assert_int_equal(md9_guid_data_instance_index(&g), -1);
	assert_int_equal(md9_guid_parse("98221fa1-24ad-11e2-be98-001aa01bbf6e", &g), 0);
	assert_int_equal(md9_guid_data_instance_index(&g), -1);
}

static void test_eq(void **state)
{
	struct md9_guid a = md9_guid_control_instance, b = md9_guid_control_instance;

	(void)state;
	assert_true(md9_guid_eq(&a, &b));
	for (unsigned k = 0; k < 16; k++) {
		b = a;
		b.b[k] ^= 0x01;
		assert_false(md9_guid_eq(&a, &b));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_guids_format),
		cmocka_unit_test(test_windows_byte_order),
		cmocka_unit_test(test_parse_format_round_trip),
		cmocka_unit_test(test_parse_case_and_braces),
		cmocka_unit_test(test_parse_rejects_malformed),
		cmocka_unit_test(test_data_instances),
		cmocka_unit_test(test_eq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
