// SPDX-License-Identifier: MIT
/* The NIC interface: picking the backend, and the virtio-net backend over
 * drivers/virtio_net.c. */
#include <linux/virtio_ids.h>

#include "drivers/virtio_net.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "programs/netdev.h"
#include "programs/vdev.h"
#include "runtime/mem.h"

int g_netdev_open(struct g_run *run, struct g_netdev **n)
{
	const char *dev = g_arg("dev");

	if (!dev || !*dev || !strcmp(dev, "virtio"))
		return g_netdev_open_virtio(run, n);
	if (!strcmp(dev, "pcnet"))
		return g_netdev_open_pcnet(run, n);
	return g_run_fail(run, "bad dev=%s (virtio, pcnet)", dev);
}

struct vnetdev {
	struct g_netdev gen; /* first: the ops get it */
	struct g_vprog prog;
	struct g_vnet net;
};

static struct g_vnet *to_vnet(struct g_netdev *n)
{
	return &((struct vnetdev *)n)->net;
}

static void *v_recv(struct g_netdev *n, uint8_t **frame, uint32_t *len)
{
	return g_vnet_recv(to_vnet(n), frame, len);
}

static void v_recv_done(struct g_netdev *n, void *buf)
{
	g_vnet_recv_done(to_vnet(n), buf);
}

static void v_kick_rx(struct g_netdev *n)
{
	g_vnet_kick_rx(to_vnet(n));
}

static int v_send(struct g_netdev *n, const void *frame, uint32_t len)
{
	return g_vnet_send(to_vnet(n), frame, len);
}

static int v_wait(struct g_netdev *n, uint64_t deadline)
{
	return g_vnet_wait(to_vnet(n), deadline);
}

static int v_tx_wait(struct g_netdev *n, uint64_t deadline)
{
	return g_vnet_tx_wait(to_vnet(n), deadline);
}

static void v_stats(struct g_netdev *n, struct g_netdev_stats *s)
{
	const struct g_vnet *v = to_vnet(n);

	*s = (struct g_netdev_stats){v->rx_frames, v->rx_bad, v->tx_frames,
				     g_virtio_irq_count(v->dev)};
}

static void v_close(struct g_netdev *n)
{
	g_virtio_reset(to_vnet(n)->dev);
}

static const struct g_netdev_ops vnet_ops = {
	.recv = v_recv,
	.recv_done = v_recv_done,
	.kick_rx = v_kick_rx,
	.send = v_send,
	.wait = v_wait,
	.tx_wait = v_tx_wait,
	.stats = v_stats,
	.close = v_close,
};

int g_netdev_open_virtio(struct g_run *run, struct g_netdev **out)
{
	struct vnetdev *v = g_mem_alloc(sizeof(*v), 64);
	int rc;

	if (!v)
		return g_run_fail(run, "out of memory for the device");
	if (g_vprog_open(run, &v->prog, "net", VIRTIO_ID_NET))
		return -1;
	rc = g_vnet_init(&v->net, v->prog.dev, &v->prog.opts);
	if (rc)
		return g_run_fail(run, "virtio-net set-up failed (error %d)", rc);
	g_printf("mem: net: queues of %u and %u entries, %u receive buffers\n", v->net.rx.num,
		 v->net.tx.num, v->net.nrx);
	g_vprog_report(&v->prog);
	v->gen.ops = &vnet_ops;
	v->gen.has_mac = v->net.has_mac;
	memcpy(v->gen.mac, v->net.mac, sizeof(v->gen.mac));
	*out = &v->gen;
	return 0;
}
