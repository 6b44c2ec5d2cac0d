# The PyTorch side of bench/cifar_vgg: the network of models/cifar_vgg.lua, the same
# optimizer, loss, data shape and timing as bench/cifar_vgg.lua, as a plain training loop.
# Run by bench/cifar_vgg; on its own:
#   /usr/bin/python3 bench/cifar_vgg.py train BATCH STEPS EPOCHS THREADS MKLDNN
#   /usr/bin/python3 bench/cifar_vgg.py malloc-check
# THREADS: torch.set_num_threads; MKLDNN 0|1: torch.backends.mkldnn.enabled. OpenBLAS's
# thread count and the malloc configuration come from the environment.
# train: BATCH*STEPS images [3,32,32] of standard normal values with random labels 0..9;
#   WARMUP (3) steps, then EPOCHS timed epochs of STEPS steps. Prints
#   torch batch=B threads=N mkldnn=M steps=S epoch_s=t1,t2,... loss=l1,l2,... out=DIMS params=P tensors=K shapes=S
import sys

from lib import csv, malloc_check, peak_rss_kb, timed_epochs, workload

WARMUP = 3


def cifar_vgg(torch, width=64):
    nn = torch.nn

    def conv(cin, cout):
        # no bias: the batch norm after it has one (as models/cifar_vgg.lua)
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    w = width
    return nn.Sequential(
        *conv(3, w), *conv(w, w), nn.MaxPool2d(2),
        *conv(w, 2 * w), *conv(2 * w, 2 * w), nn.MaxPool2d(2),
        *conv(2 * w, 4 * w), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(4 * w * 4 * 4, 10),
    )


def main():
    if sys.argv[1:2] == ["malloc-check"]:
        return malloc_check()
    if len(sys.argv) != 7 or sys.argv[1] != "train":
        sys.exit("usage: cifar_vgg.py train BATCH STEPS EPOCHS THREADS MKLDNN")
    import torch
    bs, steps, epochs, threads, mkldnn = (int(a) for a in sys.argv[2:7])
    torch.set_num_threads(threads)
    torch.backends.mkldnn.enabled = bool(mkldnn)
    torch.manual_seed(0)
    model = cifar_vgg(torch)
    n = bs * steps
    x, y = torch.randn(n, 3, 32, 32), torch.randint(0, 10, (n,))
    loss_fn = torch.nn.CrossEntropyLoss()
    # eps 1e-7 as Keras (and luacnn); PyTorch's default is 1e-8
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    times, losses = timed_epochs(torch, model, opt, loss_fn, x, y, bs, epochs, WARMUP * bs)
    print("torch batch=%d threads=%d mkldnn=%d steps=%d epoch_s=%s loss=%s out=%dx%d %s peak_rss_kb=%d" % (
        bs, torch.get_num_threads(), mkldnn, steps, csv(times), csv(losses), bs, model[-1].out_features,
        workload(model), peak_rss_kb()))


if __name__ == "__main__":
    main()
