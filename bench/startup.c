/* SPDX-License-Identifier: MIT */
/*
 * startup: how fast vmmon starts a guest and how much memory it keeps for itself.
 *
 *   startup [--runs N] [--qemu] VMMON GUEST_ELF [TINY_ELF]
 *
 * Each run forks and execs `vmmon --stats` and measures, from just before the fork:
 *   - first exit: vCPU 0's first KVM_RUN return (vmmon prints its CLOCK_MONOTONIC time), an
 *     upper bound on "exec to the guest's first instruction";
 *   - PASS: when "guest: PASS hello" arrives on the serial pipe;
 *   - exit: when vmmon has exited; CPU: vmmon's user + system time (wait4);
 *   - vmmon's own resident memory at the end (RSS minus the guest RAM memfd pages).
 * TINY_ELF, a PVH image whose third instruction exits, bounds the first instruction tightest.
 * --qemu runs `qemu-system-x86_64 -accel tcg` on the same guest, alternating with vmmon, for a
 * side-by-side ratio. Prints a Markdown table: median, min and max of each figure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 1000

struct sample {
	double first_ms, pass_ms, exit_ms, cpu_ms, own_kib, maxrss_kib;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* Runs argv with stdout and stderr on pipes; fills s. Returns 0 or -1. */
static int run_once(char *const argv[], const char *pass_text, struct sample *s)
{
	int out[2], err[2];
	if (pipe(out) || pipe(err))
		return -1;
	uint64_t t0 = now_ns();
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0)
			dup2(null, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	char buf[65536], ebuf[8192];
	size_t n = 0, en = 0;
	uint64_t t_pass = 0;
	ssize_t r;
	while ((r = read(out[0], buf + n, sizeof(buf) - 1 - n)) > 0) {
		n += (size_t)r;
		buf[n] = 0;
		if (!t_pass && strstr(buf, pass_text))
			t_pass = now_ns();
		if (n == sizeof(buf) - 1)
			n = 0; /* only the PASS line matters */
	}
	while ((r = read(err[0], ebuf + en, sizeof(ebuf) - 1 - en)) > 0)
		en += (size_t)r;
	ebuf[en] = 0;
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0)
		return -1;
	uint64_t t_exit = now_ns();
	close(out[0]);
	close(err[0]);
	*s = (struct sample){.first_ms = -1, .own_kib = -1}; /* -1: not reported */
	s->pass_ms = t_pass ? ms(t_pass - t0) : -1;
	s->exit_ms = ms(t_exit - t0);
	s->cpu_ms = ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
		    ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
	s->maxrss_kib = (double)ru.ru_maxrss;
	const char *p = strstr(ebuf, "first guest exit at CLOCK_MONOTONIC ");
	if (p) {
		uint64_t first =
			strtoull(p + strlen("first guest exit at CLOCK_MONOTONIC "), NULL, 10);
		s->first_ms = first > t0 ? ms(first - t0) : -1;
	}
	p = strstr(ebuf, "KiB; vmmon ");
	s->own_kib = p ? strtod(p + strlen("KiB; vmmon "), NULL) : -1;
	return 0;
}

enum { F_FIRST, F_PASS, F_EXIT, F_CPU, F_OWN, F_MAXRSS, NR_FIGURES };

static const char *const figure_names[NR_FIGURES] = {
	"exec to first guest exit (ms)", "exec to `guest: PASS` (ms)",
	"exec to process exit (ms)",	 "CPU time, user + system (ms)",
	"vmmon's own RSS at exit (KiB)", "peak RSS, guest RAM included (KiB)",
};

static double figure(const struct sample *s, int f)
{
	const double v[NR_FIGURES] = {s->first_ms, s->pass_ms, s->exit_ms,
				      s->cpu_ms,   s->own_kib, s->maxrss_kib};
	return v[f];
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* "median (min-max)" over the runs that have the figure, or "n/a". */
static void cell(const struct sample *s, int runs, int f, char *out, size_t len, double *median)
{
	static double v[MAX_RUNS];
	int n = 0;
	for (int i = 0; i < runs; i++)
		if (figure(&s[i], f) >= 0)
			v[n++] = figure(&s[i], f);
	*median = -1;
	if (!n) {
		snprintf(out, len, "n/a");
		return;
	}
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	*median = v[n / 2];
	const char *fmt = f >= F_OWN ? "%.0f (%.0f-%.0f)" : "%.2f (%.2f-%.2f)";
	snprintf(out, len, fmt, v[n / 2], v[0], v[n - 1]);
}

struct scenario {
	const char *name;
	char *argv[24];
	const char *pass;
	struct sample s[MAX_RUNS];
};

int main(int argc, char **argv)
{
	int runs = 20, qemu = 0, i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--qemu"))
			qemu = 1;
		else
			break;
	}
	if (argc - i < 2 || runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: startup [--runs N] [--qemu] VMMON GUEST_ELF [TINY_ELF]\n");
		return 2;
	}
	char *vmmon = argv[i], *guest = argv[i + 1], *tiny = argc - i > 2 ? argv[i + 2] : NULL;
	static struct scenario sc[3];
	int nsc = 0;
	sc[nsc++] = (struct scenario){.name = "vmmon, guest.elf run=hello",
				      .argv = {vmmon, "--kernel", guest, "--cmdline", "run=hello",
					       "--serial", "stdio", "--stats", NULL},
				      .pass = "guest: PASS hello"};
	if (tiny)
		sc[nsc++] = (struct scenario){
			.name = "vmmon, tiny image",
			.argv = {vmmon, "--kernel", tiny, "--serial", "off", "--stats", NULL},
			.pass = "\x01never"};
	if (qemu)
		sc[nsc++] = (struct scenario){
			.name = "QEMU 7.2 TCG, guest.elf run=hello",
			.argv = {"qemu-system-x86_64", "-accel", "tcg", "-kernel", guest, "-append",
				 "run=hello", "-m", "512", "-device",
				 "isa-debug-exit,iobase=0xf4,iosize=4", "-serial", "stdio",
				 "-display", "none", "-no-reboot", NULL},
			.pass = "guest: PASS hello"};
	/* Interleaved, so that the machine's noise falls on every scenario alike. */
	for (int r = 0; r < runs; r++)
		for (int k = 0; k < nsc; k++)
			if (run_once(sc[k].argv, sc[k].pass, &sc[k].s[r])) {
				fprintf(stderr, "startup: cannot run %s: %s\n", sc[k].argv[0],
					strerror(errno));
				return 1;
			}
	printf("%d runs each, interleaved; median (min-max)\n\n| figure |", runs);
	for (int k = 0; k < nsc; k++)
		printf(" %s |", sc[k].name);
	printf("\n|---|");
	for (int k = 0; k < nsc; k++)
		printf("---|");
	printf("\n");
	double med[3][NR_FIGURES];
	for (int f = 0; f < NR_FIGURES; f++) {
		printf("| %s |", figure_names[f]);
		for (int k = 0; k < nsc; k++) {
			char c[64];
			cell(sc[k].s, runs, f, c, sizeof(c), &med[k][f]);
			printf(" %s |", c);
		}
		printf("\n");
	}
	if (qemu && med[nsc - 1][F_PASS] > 0 && med[0][F_PASS] > 0)
		printf("\nQEMU TCG / vmmon, time to PASS (medians): %.1fx\n",
		       med[nsc - 1][F_PASS] / med[0][F_PASS]);
	return 0;
}
