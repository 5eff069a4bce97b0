/* SPDX-License-Identifier: MIT */
#include "vm.h"

#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/regs.h"
#include "file.h"
#include "layout.h"
#include "platform.h"
#include "stats.h"
#include "vcpu.h"

#define SLOT_LOW  0
#define SLOT_HIGH 1
#define SLOT_ROM  2

int vmm_vm_set_irq(void *ctx, unsigned gsi, bool level)
{
	struct vmm_vm *vm = ctx;
	/* A PC's PCI interrupts reach the interrupt controllers only through the PIIX3's PIRQ
	 * routing, which the firmware programs and describes to the OS: pins 16-23 are unused. */
	if (vm->plat.pc && gsi >= VMM_PCI_INTX_FIRST &&
	    gsi < VMM_PCI_INTX_FIRST + VMM_PCI_INTX_PINS)
		return piix3_intx(&vm->plat.isa, gsi - VMM_PCI_INTX_FIRST, level);
	struct kvm_irq_level irq = {.irq = gsi, .level = level};
	return ioctl(vm->fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}

void vmm_vm_request_reset(struct vmm_vm *vm)
{
	/* A kernel's VM ends on a reset, as in Firecracker and Cloud Hypervisor; a firmware's
	 * machine restarts, as a PC does. */
	vmm_vm_stop(vm, vm->cfg->firmware || vm->api ? VMM_EXIT_RESET : VMM_EXIT_OK);
}

void vmm_vm_stop(struct vmm_vm *vm, int status)
{
	pthread_mutex_lock(&vm->stop_lock);
	if (!atomic_load(&vm->stopping)) {
		vm->exit_status = status;
		atomic_store(&vm->stopping, true);
		uint64_t one = 1;
		if (write(vm->stop_fd, &one, sizeof(one)) < 0) {
			/* cannot fail for a fresh eventfd: the counter is far from saturation */
		}
		/* Parked vCPUs wake and see `stopping`. */
		pthread_mutex_lock(&vm->pause_lock);
		pthread_cond_broadcast(&vm->pause_cond);
		pthread_mutex_unlock(&vm->pause_lock);
	}
	pthread_mutex_unlock(&vm->stop_lock);
}

static unsigned started_vcpus(const struct vmm_vm *vm)
{
	unsigned n = 0;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		n += vm->vcpus[i].started;
	return n;
}

int vmm_vm_pause(struct vmm_vm *vm)
{
	atomic_store(&vm->pausing, true);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vmm_vcpu_kick(&vm->vcpus[i]);
	pthread_mutex_lock(&vm->pause_lock);
	while (vm->parked < started_vcpus(vm) && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	pthread_mutex_unlock(&vm->pause_lock);
	/* No vCPU runs: the guest adds nothing to the rings; each vhost-user back-end stops its
	 * rings once its in-flight requests are done; the I/O thread finishes its batch. */
	vmm_devices_pause(vm);
	if (vm->devs.io_ready)
		vmm_io_pause(&vm->devs.io);
	/* The guest's clock stands still while paused, as its CPUs do. */
	if (ioctl(vm->fd, KVM_GET_CLOCK, &vm->clock) < 0)
		return -errno;
	return 0;
}

int vmm_vm_resume(struct vmm_vm *vm)
{
	struct kvm_clock_data c = {.clock = vm->clock.clock};
	int ret = ioctl(vm->fd, KVM_SET_CLOCK, &c) < 0 ? -errno : 0;
	if (vm->devs.io_ready)
		vmm_io_resume(&vm->devs.io);
	vmm_devices_resume(vm);
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vm->pausing, false);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	return ret;
}

static int add_slot(struct vmm_vm *vm, unsigned slot, uint64_t gpa, uint64_t size, uint64_t off,
		    struct host_err *err)
{
	struct kvm_userspace_memory_region r = {.slot = slot,
						.guest_phys_addr = gpa,
						.memory_size = size,
						.userspace_addr =
							(uint64_t)(uintptr_t)(vm->ram + off)};
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return host_err_set(err, errno, "cannot map guest RAM at 0x%" PRIx64 ": %s", gpa,
				    strerror(errno));
	int ret = gmem_add(&vm->mem, gpa, size, vm->ram + off, vm->ram_fd, off);
	return ret ? host_err_set(err, -ret, "guest memory table: %s", strerror(-ret)) : 0;
}

/* Guest RAM is one memfd (shareable with other processes), split around the MMIO hole. Once
 * sized it is sealed, as QEMU's memory-backend-memfd does: a vhost-user back-end that maps it
 * can rely on it never shrinking under that mapping (nor growing, nor being sealed further). */
static int setup_memory(struct vmm_vm *vm, struct host_err *err)
{
	vm->ram_size = vm->cfg->memory;
	if (vmm_e820_build(vm->ram_size, &vm->e820))
		return host_err_set(err, EINVAL, "--memory must be between 4M and 1T");
	vm->ram_fd = memfd_create("vmmon-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (vm->ram_fd < 0)
		return host_err_set(err, errno, "memfd_create: %s", strerror(errno));
	if (ftruncate(vm->ram_fd, (off_t)vm->ram_size) < 0)
		return host_err_set(err, errno, "cannot size guest RAM to %" PRIu64 " bytes: %s",
				    vm->ram_size, strerror(errno));
	if (fcntl(vm->ram_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return host_err_set(err, errno, "cannot seal guest RAM: %s", strerror(errno));
	vm->ram = mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		       vm->ram_fd, 0);
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		return host_err_set(err, errno, "cannot map %" PRIu64 " bytes of guest RAM: %s",
				    vm->ram_size, strerror(errno));
	}
	uint64_t low = vmm_ram_below_4g(vm->ram_size), high = vmm_ram_above_4g(vm->ram_size);
	int ret = add_slot(vm, SLOT_LOW, 0, low, 0, err);
	if (!ret && high)
		ret = add_slot(vm, SLOT_HIGH, LAYOUT_4G, high, low, err);
	return ret;
}

/* The firmware's flash below 4 GiB: a fresh read-only copy of the image in a slot of its own.
 * Reads and fetches stay in the guest; a write exits as MMIO and is dropped ("bios-rom"). Not
 * in the guest-memory table: it is no RAM, and no back-end should see it. */
static int map_firmware(struct vmm_vm *vm, struct host_err *err)
{
	size_t size = vm->firmware_size;
	if (ioctl(vm->kvm.fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0)
		return host_err_set(err, ENOTSUP,
				    "--firmware: this host's KVM lacks KVM_CAP_READONLY_MEM, "
				    "which the firmware's ROM needs");
	void *rom = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rom == MAP_FAILED)
		return host_err_set(err, errno, "cannot map the firmware: %s", strerror(errno));
	vm->rom = rom;
	memcpy(rom, vm->firmware, size);
	mprotect(rom, size, PROT_READ); /* only hardening: the slot is read-only for the guest */
	struct kvm_userspace_memory_region r = {.slot = SLOT_ROM,
						.flags = KVM_MEM_READONLY,
						.guest_phys_addr = vmm_firmware_rom_base(size),
						.memory_size = size,
						.userspace_addr = (uint64_t)(uintptr_t)rom};
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return host_err_set(err, errno, "cannot map the firmware below 4 GiB: %s",
				    strerror(errno));
	return 0;
}

/* In-kernel PIC, I/O APIC, local APICs and PIT. The I/O APIC takes the ID the MP table gives
 * it (after the CPUs' APIC IDs, or 0 under a firmware), so the guest finds what it promises. */
static int setup_irqchip(struct vmm_vm *vm, struct host_err *err)
{
	if (ioctl(vm->fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_KVM_TSS) < 0)
		return host_err_set(err, errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
	uint64_t idmap = LAYOUT_KVM_IDENTITY_MAP;
	if (ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		return host_err_set(err, errno, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return host_err_set(err, errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	struct kvm_irqchip chip = {.chip_id = KVM_IRQCHIP_IOAPIC};
	if (ioctl(vm->fd, KVM_GET_IRQCHIP, &chip) < 0)
		return host_err_set(err, errno, "KVM_GET_IRQCHIP: %s", strerror(errno));
	/* A firmware writes its own tables, which give the I/O APIC ID 0 (SeaBIOS's, QEMU's). */
	chip.chip.ioapic.id = vm->cfg->firmware ? 0 : vm->nr_vcpus;
	if (ioctl(vm->fd, KVM_SET_IRQCHIP, &chip) < 0)
		return host_err_set(err, errno, "KVM_SET_IRQCHIP: %s", strerror(errno));
	/* SPEAKER_DUMMY gives port 0x61 its PIT gate/output bits: guests time with channel 2. */
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	if (ioctl(vm->fd, KVM_CREATE_PIT2, &pit) < 0)
		return host_err_set(err, errno, "KVM_CREATE_PIT2: %s", strerror(errno));
	return 0;
}

static int create_vcpus(struct vmm_vm *vm, struct host_err *err)
{
	int ret = vmm_cpuid_supported(vm->kvm.fd, &vm->cpuid);
	if (ret)
		return host_err_set(err, -ret, "KVM_GET_SUPPORTED_CPUID: %s", strerror(-ret));
	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return host_err_set(err, ENOMEM, "out of memory for %u vCPUs", vm->nr_vcpus);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		ret = vmm_vcpu_create(&vm->vcpus[i], vm, i, err);
		if (ret)
			return ret;
	}
	return 0;
}

/* The machine: KVM VM, RAM, interrupt controllers, devices and vCPUs (vm->cfg and the host's
 * ends set). Built once, and again on each reset of a firmware's machine. */
static int build(struct vmm_vm *vm, struct host_err *err)
{
	const struct vmm_config *cfg = vm->cfg;
	vm->fd = vm->ram_fd = vm->stop_fd = -1;
	vm->plat.rtc_timer_fd = -1;
	vm->nr_vcpus = cfg->cpus;
	gmem_init(&vm->mem);
	pthread_mutex_init(&vm->stop_lock, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	vmm_bus_init(&vm->pio, "pio");
	vmm_bus_init(&vm->mmio, "mmio");

	int ret = vmm_kvm_open(&vm->kvm, NULL, err);
	if (ret)
		return ret;
	if (cfg->cpus > vm->kvm.max_vcpus)
		return host_err_set(err, EINVAL,
				    "--cpus %u: this host's KVM allows at most %u vCPUs", cfg->cpus,
				    vm->kvm.max_vcpus);
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0)
		return host_err_set(err, errno, "eventfd: %s", strerror(errno));
	vm->fd = ioctl(vm->kvm.fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		return host_err_set(err, errno, "KVM_CREATE_VM: %s", strerror(errno));
	vmm_coalesce_init(&vm->coalesce, vm->fd, &vm->pio, &vm->mmio);
	vm->coalesce_ready = true;
	if (vm->kvm.emulation_failure_bytes) {
		struct kvm_enable_cap cap = {.cap = KVM_CAP_EXIT_ON_EMULATION_FAILURE, .args = {1}};
		ioctl(vm->fd, KVM_ENABLE_CAP, &cap); /* only adds detail to crash reports */
	}
	ret = setup_memory(vm, err);
	if (!ret && vm->firmware)
		ret = map_firmware(vm, err);
	if (!ret)
		ret = setup_irqchip(vm, err);
	if (!ret)
		ret = vmm_platform_init(vm, err);
	if (!ret)
		ret = vmm_devices_init(vm, err);
	if (!ret)
		ret = create_vcpus(vm, err);
	/* One ring per VM, seen through every vCPU's mapping: vCPU 0's is the drains'. */
	if (!ret && vm->kvm.coalesced_pio)
		vmm_coalesce_set_ring(&vm->coalesce, vm->vcpus[0].run, vm->kvm.run_size,
				      vm->kvm.coalesced_page);
	return ret;
}

/* The firmware image, read once: every reset starts from this copy. */
static int read_firmware(struct vmm_vm *vm, struct host_err *err)
{
	struct vmm_file f = {0};
	int ret = vmm_file_map(&f, vm->cfg->firmware, "--firmware", err);
	if (!ret)
		ret = vmm_firmware_check(f.size, vm->cfg->firmware, err);
	if (!ret) {
		vm->firmware = malloc(f.size);
		if (vm->firmware) {
			memcpy(vm->firmware, f.data, f.size);
			vm->firmware_size = f.size;
		} else {
			ret = host_err_set(err, ENOMEM, "out of memory for the firmware");
		}
	}
	vmm_file_unmap(&f);
	return ret;
}

int vmm_vm_create(struct vmm_vm *vm, const struct vmm_config *cfg, struct host_err *err)
{
	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->con = (struct vmm_console){.out_fd = -1, .in_fd = -1, .room_fd = -1};
	vm->debugcon = vm->con;
	int ret = 0;
	if (cfg->firmware)
		ret = read_firmware(vm, err);
	if (!ret)
		ret = vmm_console_open(&vm->con, cfg->serial, cfg->serial_path, err);
	if (!ret)
		ret = vmm_console_open_output(&vm->debugcon, cfg->debugcon, cfg->debugcon_path,
					      "--debugcon", err);
	if (!ret)
		ret = build(vm, err);
	return ret;
}

/* The firmware below 1 MiB (its ROM is mapped by build), what it reads from fw_cfg and the CMOS,
 * and the boot CPU at the reset vector; the other CPUs wait for INIT and SIPI in KVM. */
static int load_firmware(struct vmm_vm *vm, struct host_err *err)
{
	struct vmm_boot_entry entry;
	int ret = vmm_firmware_load(&vm->mem, vm->firmware, vm->firmware_size, &entry, err);
	if (!ret)
		ret = vmm_platform_firmware(vm, err);
	if (ret)
		return ret;
	const struct kvm_cpuid_entry2 *leaf1 = vmm_cpuid_find(&vm->cpuid, 1, 0);
	entry.arg = leaf1 ? leaf1->eax : 0;
	ret = vmm_boot_set_regs(vm->vcpus[0].fd, &entry);
	return ret ? host_err_set(err, -ret, "cannot reset the boot CPU: %s", strerror(-ret)) : 0;
}

int vmm_vm_load(struct vmm_vm *vm, struct host_err *err)
{
	if (vm->cfg->firmware)
		return load_firmware(vm, err);
	struct vmm_file kernel = {0}, initrd = {0};
	struct vmm_boot_entry entry;
	int ret = vmm_file_map(&kernel, vm->cfg->kernel, "--kernel", err);
	if (!ret && vm->cfg->initramfs)
		ret = vmm_file_map(&initrd, vm->cfg->initramfs, "--initramfs", err);
	if (ret)
		goto out;
	/* The kernel learns about virtio-mmio devices from its command line. */
	char *cmdline = NULL;
	if (asprintf(&cmdline, "%s%s", vm->cfg->cmdline, vm->devs.cmdline) < 0) {
		ret = host_err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	struct vmm_boot_params p = {.kernel = kernel.data,
				    .kernel_size = kernel.size,
				    .initrd = initrd.data,
				    .initrd_size = initrd.size,
				    .cmdline = cmdline,
				    .e820 = &vm->e820,
				    .ram_is_zero = true /* a new memfd */};
	ret = vmm_boot_load(&vm->mem, &p, &entry, err);
	if (!ret)
		ret = vmm_platform_write_tables(vm, err);
	if (!ret) {
		ret = vmm_boot_set_regs(vm->vcpus[0].fd, &entry);
		if (ret)
			host_err_set(err, -ret, "cannot set the boot CPU's registers: %s",
				     strerror(-ret));
	}
	free(cmdline);
out:
	vmm_file_unmap(&initrd);
	vmm_file_unmap(&kernel);
	return ret;
}

/* Moves what stdin has into the UART, never more than its FIFO takes. Returns false at EOF. */
static bool pump_input(struct vmm_vm *vm)
{
	uint8_t buf[UART_FIFO_SIZE];
	size_t room = uart_rx_room(&vm->plat.com1);
	if (!room)
		return true;
	ssize_t n = read(vm->con.in_fd, buf, room);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	uart_rx_push(&vm->plat.com1, buf, (size_t)n); /* fits: only this thread fills the FIFO */
	return true;
}

/* The main thread: waits for the end while feeding stdin to the UART. */
static void main_loop(struct vmm_vm *vm, int sig_fd)
{
	bool input = vm->con.in_fd >= 0;
	while (!atomic_load(&vm->stopping)) {
		bool room = input && uart_rx_room(&vm->plat.com1) > 0;
		struct pollfd fds[] = {
			{.fd = vm->stop_fd, .events = POLLIN},
			{.fd = sig_fd, .events = POLLIN},
			{.fd = vm->con.room_fd, .events = POLLIN},
			{.fd = room ? vm->con.in_fd : -1, .events = POLLIN},
			{.fd = vm->plat.rtc_timer_fd, .events = POLLIN},
		};
		/* With a full FIFO, look again now and then: leaving loopback frees it silently. */
		if (poll(fds, 5, input && !room ? 100 : -1) < 0 && errno != EINTR)
			break;
		if (fds[4].revents & POLLIN) {
			uint64_t n;
			/* Periods the guest has not acknowledged merge, as on the chip: one tick.
			 */
			if (read(vm->plat.rtc_timer_fd, &n, sizeof(n)) == sizeof(n) && n)
				rtc_periodic_tick(&vm->plat.rtc);
		}
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sig_fd, &si, sizeof(si)) == sizeof(si))
				vmm_vm_stop(vm, VMM_EXIT_SIGNAL_BASE + (int)si.ssi_signo);
		}
		if (fds[2].revents & POLLIN) {
			uint64_t v;
			if (read(vm->con.room_fd, &v, sizeof(v)) < 0) {
				/* EAGAIN: already drained */
			}
		}
		if (fds[3].revents & (POLLIN | POLLHUP | POLLERR))
			input = pump_input(vm);
	}
}

void vmm_term_sigset(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
}

int vmm_vm_run(struct vmm_vm *vm)
{
	/* Termination signals arrive through a signalfd; vCPU threads inherit the mask and
	 * only unblock their kick signal. */
	sigset_t set;
	vmm_term_sigset(&set);
	sigaddset(&set, SIGUSR1);
	int sig_fd = -1;
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) || vmm_vcpu_signals_init()) {
		fprintf(stderr, "vmmon: cannot set up signal handling: %s\n", strerror(errno));
		return VMM_EXIT_ERROR;
	}
	sigdelset(&set, SIGUSR1);
	/* Under the API, main reads the signals and ends the VM through the controller. */
	if (!vm->api)
		sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_fd < 0 && !vm->api) {
		fprintf(stderr, "vmmon: signalfd: %s\n", strerror(errno));
		return VMM_EXIT_ERROR;
	}
	if (vmm_devices_start(vm)) {
		fprintf(stderr, "vmmon: cannot start the I/O thread\n");
		vmm_vm_stop(vm, VMM_EXIT_ERROR);
	}
	for (unsigned i = 0; i < vm->nr_vcpus && !atomic_load(&vm->stopping); i++) {
		int ret = vmm_vcpu_start(&vm->vcpus[i]);
		if (ret) {
			fprintf(stderr, "vmmon: cannot start vCPU %u: %s\n", i, strerror(-ret));
			vmm_vm_stop(vm, VMM_EXIT_ERROR);
			break;
		}
	}
	main_loop(vm, sig_fd);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vmm_vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vmm_vcpu_join(&vm->vcpus[i]);
	vmm_devices_stop(vm);
	if (sig_fd >= 0)
		close(sig_fd);
	if (vm->cfg->stats)
		vmm_stats_print(vm);
	return vm->exit_status;
}

/* Undoes build (whatever part of it was done) and zeroes the machine's part of vm. */
static void teardown(struct vmm_vm *vm)
{
	if (vm->vcpus) {
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			vmm_vcpu_destroy(&vm->vcpus[i]);
		free(vm->vcpus);
		vm->vcpus = NULL;
	}
	vmm_devices_destroy(vm);
	vmm_platform_destroy(vm);
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	if (vm->ram_fd >= 0)
		close(vm->ram_fd);
	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->rom)
		munmap(vm->rom, vm->firmware_size);
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	vmm_kvm_close(&vm->kvm);
	if (vm->coalesce_ready)
		vmm_coalesce_destroy(&vm->coalesce);
	vmm_bus_destroy(&vm->mmio);
	vmm_bus_destroy(&vm->pio);
	pthread_mutex_destroy(&vm->stop_lock);
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_cond_destroy(&vm->pause_cond);
	memset((uint8_t *)vm + offsetof(struct vmm_vm, kvm), 0,
	       sizeof(*vm) - offsetof(struct vmm_vm, kvm));
}

int vmm_vm_reset(struct vmm_vm *vm, struct host_err *err)
{
	teardown(vm);
	vm->resets++;
	int ret = build(vm, err);
	return ret ? ret : vmm_vm_load(vm, err);
}

void vmm_vm_destroy(struct vmm_vm *vm)
{
	teardown(vm);
	vmm_console_close(&vm->debugcon);
	vmm_console_close(&vm->con);
	free(vm->firmware);
	vm->firmware = NULL;
}
