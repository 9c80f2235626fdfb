"""Test photos and their references for the image pipeline (test/images.test.ts).

make DIR: an ImageFolder of real photographs from Debian's python3-skimage data folder,
  re-encoded by PIL (sizes, JPEG qualities and subsamplings, progressive, grayscale, CMYK;
  PNG RGBA, LA, palette with and without transparency, 16-bit gray) and one 16-bit RGB PNG
  written by OpenCV (PIL cannot write one). Prints {"files": [...], "labels": [...], "classes": [...]}
  as torchvision's ImageFolder lists them.
decode DIR OUT: PIL's Image.open(p).convert('RGB') of every sample, OUT/decoded_<i>.npy (uint8 HWC).
torchvision DIR OUT RESIZE CROP INTERP MEAN STD: PIL pixels after Resize+CenterCrop
  (OUT/tv_<i>.npy) and the float tensor of ImageFolder with the full transform (OUT/tv_x.npy, OUT/tv_y.npy).
ffcv OUT N RESIZE CROP MEAN STD: FFCV's centre crop and cv2.resize(INTER_AREA) of OUT/decoded_<i>.npy
  (OUT/ffcv_<i>.npy uint8) and its normalisation (OUT/ffcv_x_<i>.npy float32); a crop under CROP is enlarged, as FFCV does.
pilcheck FILE...: {file: PIL's error message, or null when Image.open(p).convert('RGB') succeeds}.
"""
import json
import os
import sys

import numpy as np
from PIL import Image

SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data'


def photo(name):
    return Image.open(os.path.join(SKIMAGE, name))


def make(root):
    def save(cls, name, im, **kw):
        os.makedirs(os.path.join(root, cls), exist_ok=True)
        im.save(os.path.join(root, cls, name), **kw)

    astronaut = photo('astronaut.png').convert('RGB')
    chelsea = photo('chelsea.png').convert('RGB')
    coffee = photo('coffee.png').convert('RGB')
    rocket = photo('rocket.jpg').convert('RGB')
    motorcycle = photo('motorcycle_left.png').convert('RGB')
    camera = photo('camera.png')
    hubble = photo('hubble_deep_field.jpg').convert('RGB')
    # JPEG: qualities, chroma subsamplings (0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0), sizes, progressive
    save('jpeg', 'astronaut_q95_444.jpg', astronaut, quality=95, subsampling=0)
    save('jpeg', 'chelsea_q75_420.jpg', chelsea.resize((400, 266), Image.LANCZOS), quality=75, subsampling=2)
    save('jpeg', 'coffee_q90_422.jpg', coffee, quality=90, subsampling=1)
    save('jpeg', 'rocket_q85_progressive.JPG', rocket, quality=85, progressive=True)
    save('jpeg', 'hubble_q60_1000.jpeg', hubble, quality=60)
    save('jpeg', 'motorcycle_q98_741.jpg', motorcycle, quality=98, subsampling=0)
    save('jpeg', 'motorcycle_q50_small.jpg', motorcycle.resize((240, 162), Image.BICUBIC), quality=50)
    save('jpeg', 'astronaut_1024x512_q80.jpg', astronaut.resize((1024, 512), Image.BILINEAR), quality=80)
    # gray and CMYK JPEGs
    save('jpeg_gray_cmyk', 'camera_gray_q90.jpg', camera, quality=90)
    save('jpeg_gray_cmyk', 'camera_gray_progressive.jpg', camera.resize((300, 300)), quality=70, progressive=True)
    save('jpeg_gray_cmyk', 'coffee_cmyk_q90.jpg', coffee.convert('CMYK'), quality=90)
    save('jpeg_gray_cmyk', 'chelsea_cmyk_q80.jpg', chelsea.convert('CMYK'), quality=80)
    # PNG edge cases
    alpha = Image.linear_gradient('L').resize(astronaut.size)
    rgba = astronaut.copy()
    rgba.putalpha(alpha)
    save('png', 'astronaut_rgba.png', rgba)
    save('png', 'horse_rgba.png', photo('horse.png'))
    la = camera.convert('LA')
    la.putalpha(alpha.resize(camera.size))
    save('png', 'camera_la.png', la)
    save('png', 'chelsea_palette.png', chelsea.convert('P', palette=Image.ADAPTIVE, colors=64))
    pal = coffee.convert('P', palette=Image.ADAPTIVE, colors=32)
    save('png', 'coffee_palette_transparent.png', pal, transparency=0)
    gray16 = Image.fromarray((np.asarray(camera, dtype=np.uint16) * 257 // 256 + 0).astype(np.uint16), mode='I;16')
    save('png', 'camera_gray16_low.png', gray16)
    save('png', 'camera_gray16_full.png', Image.fromarray(np.asarray(camera, dtype=np.uint16) * 257, mode='I;16'))
    save('png', 'camera_gray8.png', camera)
    import cv2
    rgb16 = (np.asarray(coffee, dtype=np.uint16) * 257)[:, :, ::-1]  # OpenCV writes BGR
    cv2.imwrite(os.path.join(root, 'png', 'coffee_rgb16.png'), np.ascontiguousarray(rgb16))
    # not images: ignored by ImageFolder
    with open(os.path.join(root, 'png', 'README.txt'), 'w') as f:
        f.write('not an image\n')
    from torchvision.datasets import ImageFolder
    ds = ImageFolder(root)
    print(json.dumps({'files': [p for p, _ in ds.samples], 'labels': [y for _, y in ds.samples], 'classes': ds.classes}))


def decode(root, out):
    from torchvision.datasets import ImageFolder
    for i, (p, _) in enumerate(ImageFolder(root).samples):
        np.save(os.path.join(out, f'decoded_{i}.npy'), np.asarray(Image.open(p).convert('RGB')))


def torchvision_ref(root, out, resize, crop, interp, mean, std):
    import torch
    from torchvision import transforms as T
    from torchvision.datasets import ImageFolder
    mode = {'bilinear': T.InterpolationMode.BILINEAR, 'bicubic': T.InterpolationMode.BICUBIC}[interp]
    pixels = T.Compose([T.Resize(int(resize), interpolation=mode), T.CenterCrop(int(crop))])
    full = T.Compose([pixels, T.ToTensor(), T.Normalize(mean, std)])
    for i, (p, _) in enumerate(ImageFolder(root).samples):
        np.save(os.path.join(out, f'tv_{i}.npy'), np.asarray(pixels(Image.open(p).convert('RGB'))))
    ds = ImageFolder(root, transform=full)
    loader = torch.utils.data.DataLoader(ds, batch_size=8, shuffle=False, num_workers=0)
    xs, ys = zip(*loader)
    np.save(os.path.join(out, 'tv_x.npy'), torch.cat(xs).numpy().astype(np.float32))
    np.save(os.path.join(out, 'tv_y.npy'), torch.cat(ys).numpy().astype(np.int64))


def ffcv_ref(out, n, resize, crop, mean, std):
    import cv2
    ratio = crop / resize
    mean = np.array(mean) * 255
    std = np.array(std) * 255
    for i in range(n):
        im = np.load(os.path.join(out, f'decoded_{i}.npy'))
        h, w = im.shape[:2]
        # ffcv.transforms.utils / libffcv: get_center_crop then resize_crop (cv2.INTER_AREA)
        s = min(h, w)
        c = int(ratio * s)
        dh, dw = (h - c) // 2, (w - c) // 2
        px = cv2.resize(np.ascontiguousarray(im[dh:dh + c, dw:dw + c]), (crop, crop), interpolation=cv2.INTER_AREA)
        np.save(os.path.join(out, f'ffcv_{i}.npy'), px)
        # ffcv NormalizeImage: a float64 table (v - mean) / std, stored in the output dtype
        table = ((np.arange(256)[:, None] - mean[None, :]) / std[None, :]).astype(np.float32)
        x = table[px.reshape(-1, 3), np.arange(3)[None, :]].reshape(crop, crop, 3).transpose(2, 0, 1)
        np.save(os.path.join(out, f'ffcv_x_{i}.npy'), np.ascontiguousarray(x))


if __name__ == '__main__':
    cmd = sys.argv[1]
    floats = lambda s: [float(v) for v in s.split(',')]
    if cmd == 'make':
        make(sys.argv[2])
    elif cmd == 'decode':
        decode(sys.argv[2], sys.argv[3])
    elif cmd == 'torchvision':
        torchvision_ref(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], floats(sys.argv[7]), floats(sys.argv[8]))
    elif cmd == 'ffcv':
        ffcv_ref(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), floats(sys.argv[6]), floats(sys.argv[7]))
    elif cmd == 'pilcheck':
        res = {}
        for f in sys.argv[2:]:
            try:
                Image.open(f).convert('RGB')
                res[f] = None
            except Exception as e:  # what PIL says is the reference: it must refuse
                res[f] = f'{type(e).__name__}: {e}'
        print(json.dumps(res))
    else:
        raise SystemExit(f'unknown command {cmd}')
