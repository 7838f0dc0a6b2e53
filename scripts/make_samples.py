"""Generate the deterministic test-pattern images in assets/samples/."""

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "assets" / "samples"
SIZE = 256
SUPERSAMPLE = 4


def make_edges() -> Image.Image:
    """Grey image with vertical/horizontal steps and a bright square."""
    img = np.full((SIZE, SIZE), 60, dtype=np.uint8)
    img[:, SIZE // 2:] = 140  # vertical step: dark left, mid-grey right
    img[SIZE * 3 // 4:, :] = 20  # horizontal step: dark band at the bottom
    img[SIZE * 3 // 4:, SIZE // 2:] = 200  # brighter bottom-right quadrant
    img[48:112, 40:104] = 235  # bright square on the dark side
    return Image.fromarray(img, mode="L")


def make_checkerboard(squares: int = 8) -> Image.Image:
    """Grey checkerboard with `squares` squares per side."""
    cell = SIZE // squares
    idx = np.arange(SIZE) // cell
    board = (idx[:, None] + idx[None, :]) % 2
    return Image.fromarray((board * 255).astype(np.uint8), mode="L")


def make_circles() -> Image.Image:
    """RGB image of filled and outlined circles, anti-aliased by supersampling."""
    big = SIZE * SUPERSAMPLE
    img = Image.new("RGB", (big, big), (240, 236, 226))
    draw = ImageDraw.Draw(img)
    s = SUPERSAMPLE
    filled = [((70, 75), 48, (220, 50, 47)), ((180, 90), 36, (38, 139, 210)),
              ((120, 190), 42, (133, 153, 0))]
    outlined = [((190, 190), 40, (108, 61, 160)), ((60, 185), 28, (230, 150, 20)),
                ((128, 128), 110, (40, 40, 40))]
    for (cx, cy), r, colour in filled:
        draw.ellipse([(cx - r) * s, (cy - r) * s, (cx + r) * s, (cy + r) * s], fill=colour)
    for (cx, cy), r, colour in outlined:
        draw.ellipse([(cx - r) * s, (cy - r) * s, (cx + r) * s, (cy + r) * s],
                     outline=colour, width=5 * s)
    return img.resize((SIZE, SIZE), Image.LANCZOS)


def load_font(size: int) -> ImageFont.ImageFont:
    """Pillow's built-in font at `size`, or the plain default if sizing is unsupported."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):
        return ImageFont.load_default()


def make_text() -> Image.Image:
    """White image with the word CNN and a line of small dark text."""
    img = Image.new("L", (SIZE, SIZE), 255)
    draw = ImageDraw.Draw(img)
    draw.text((SIZE // 2, 100), "CNN", font=load_font(96), fill=0, anchor="mm")
    draw.text((SIZE // 2, 190), "convolve, pool, repeat", font=load_font(18),
              fill=30, anchor="mm")
    return img


def make_digit() -> Image.Image:
    """28x28 MNIST-style white '3' on black, drawn at 10x then downsampled."""
    scale = 10
    big = Image.new("L", (28 * scale, 28 * scale), 0)
    draw = ImageDraw.Draw(big)
    t = np.linspace(0, 1, 40)
    upper = [(14 + 6.5 * np.cos(a), 9 + 4.5 * np.sin(a))
             for a in np.pi * (-1.1 + 1.6 * t)]
    lower = [(14.5 + 7 * np.cos(a), 18.5 + 5 * np.sin(a))
             for a in np.pi * (-0.5 + 1.45 * t)]
    for stroke in (upper, lower):
        pts = [((x + 0.18 * (14 - y)) * scale, y * scale) for x, y in stroke]  # slant
        draw.line(pts, fill=255, width=int(2.8 * scale), joint="curve")
        for x, y in (pts[0], pts[-1]):  # round caps
            r = 1.4 * scale
            draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
    return big.resize((28, 28), Image.LANCZOS)


def make_tshirt() -> Image.Image:
    """28x28 Fashion-MNIST-style T-shirt: a light, softly shaded garment facing the camera, on black."""
    scale = 10
    big = Image.new("L", (28 * scale, 28 * scale), 0)
    draw = ImageDraw.Draw(big)
    outline = [(9.5, 3), (11.5, 3), (12.5, 5), (15.5, 5), (16.5, 3), (18.5, 3),  # shoulders and neckline
               (25, 7), (23, 12.5), (20, 10.5), (20, 25.5), (8, 25.5), (8, 10.5), (5, 12.5), (3, 7)]
    draw.polygon([(x * scale, y * scale) for x, y in outline], fill=205)
    shirt = np.asarray(big.resize((28, 28), Image.LANCZOS), dtype=np.float32)
    shade = np.linspace(1.05, 0.85, 28)[None, :]  # light from the left, as photographed garments are
    return Image.fromarray(np.clip(shirt * shade, 0, 255).astype(np.uint8), mode="L")


def make_triangle() -> Image.Image:
    """28x28 triangle outline from the app's built-in shapes set (explorer.shapes, seeded)."""
    sys.path.insert(0, str(ROOT))
    from explorer import shapes

    images, labels = shapes.draw(64, size=28, channels=1, seed=7)
    first = int((labels == shapes.CLASSES.index("triangle")).nonzero()[0])
    return Image.fromarray(images[first, 0].numpy(), mode="L")


def main() -> None:
    """Write every pattern into assets/samples/."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    makers = {"edges.png": make_edges, "checkerboard.png": make_checkerboard,
              "circles.png": make_circles, "text.png": make_text, "digit.png": make_digit,
              "tshirt.png": make_tshirt, "triangle.png": make_triangle}
    for name, make in makers.items():
        make().save(OUT_DIR / name, optimize=True)
        print(f"wrote {OUT_DIR / name}")


if __name__ == "__main__":
    main()
