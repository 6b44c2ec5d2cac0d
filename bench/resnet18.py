# The PyTorch side of bench/resnet18: torchvision.models.resnet18(num_classes=10), the same
# optimizer, loss, data shape and timing as bench/resnet18.lua, as a plain training loop.
# Run by bench/resnet18; on its own:
#   /usr/bin/python3 bench/resnet18.py BATCH STEPS EPOCHS THREADS
# THREADS: torch.set_num_threads; OpenBLAS's thread count comes from the environment;
# oneDNN on (PyTorch's default). SGD (lr 0.01, momentum 0.9), CrossEntropyLoss on the
# logits, BATCH*STEPS images [3,32,32] of N(0,1) values with random labels 0..9, shuffled
# each epoch; WARMUP (3) steps, then EPOCHS timed epochs of STEPS steps. Prints
#   torch batch=B threads=N steps=S epoch_s=t1,... loss=l1,... out=DIMS params=P tensors=K shapes=S

from lib import csv, dims, int_args, peak_rss_kb, timed_epochs, workload

WARMUP = 3


def main():
    bs, steps, epochs, threads = int_args(4, "resnet18.py BATCH STEPS EPOCHS THREADS")
    import torch
    import torchvision
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    n = bs * steps
    x, y = torch.randn(n, 3, 32, 32), torch.randint(0, 10, (n,))
    model.eval()
    with torch.no_grad():
        out = (bs,) + tuple(model(x[:2]).shape[1:])
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    times, losses = timed_epochs(torch, model, opt, torch.nn.CrossEntropyLoss(), x, y, bs, epochs, WARMUP * bs)
    print("torch batch=%d threads=%d steps=%d epoch_s=%s loss=%s out=%s %s peak_rss_kb=%d" % (
        bs, torch.get_num_threads(), steps, csv(times), csv(losses), dims(out), workload(model), peak_rss_kb()))


if __name__ == "__main__":
    main()
