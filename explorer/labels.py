"""How the app names its data sets and networks to people (tables, pickers, run names) and writes counts in formulas."""

from __future__ import annotations

import hashlib
import html
import math
import re
import string
import urllib.parse
from collections.abc import Mapping, Sequence

DATA = {"shapes": "Built-in shapes", "mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}
ARCHS = {"lenet5": "LeNet-5", "tinyvgg": "TinyVGG", "resnet_small": "Small ResNet", "custom": "Your own layers"}
TRANSFER = {  # what a transfer trains (architecture.TRANSFER_MODES), as the Train page and a run's settings say it
    "head": "only a new classifier (the trained layers fixed)",
    "convs": "new fully connected layers (the trained convolutions fixed)",
    "all": "everything (the trained layers at 1/10 of the rate)",
}


DATA_FACTS = {  # what each data set holds, as the lecture names them (MNIST's 60,000 digits...)
    "shapes": "Pen-drawn outlines in 8 classes (circle, square, triangle, cross and four lines), drawn here at the "
              "network's size (28 x 28 grey for LeNet-5), as many as a run asks for.",
    "mnist": "Handwritten digits 0 to 9 (LeCun et al. 1998): 60,000 training and 10,000 test images, 28 x 28 grey.",
    "fashion-mnist": "10 kinds of clothing (Xiao et al. 2017), shaped as MNIST: 60,000 training and 10,000 test "
                     "images, 28 x 28 grey.",
    "cifar10": "Small photos in 10 classes (Krizhevsky 2009): 50,000 training and 10,000 test images, 32 x 32 in "
               "colour. ImageNet, which the large networks learned from, holds 1.28 million photos in 1,000 classes.",
}


def data(name: str | None) -> str:
    """A data set's name as people read it (an unknown one as it is)."""
    return DATA.get(name or "", name or "?")


OPTIMIZERS = {"adamw": "AdamW", "sgd": "SGD"}


def optimizer(name: str) -> str:
    """An optimizer's name as papers write it."""
    return OPTIMIZERS.get(name, name)


def network(name: str | None) -> str:
    """A network's name as people read it (an unknown one as it is)."""
    return ARCHS.get(name or "", name or "?")


def run_stem(config: dict) -> str:
    """What a run trains, for its default name: "LeNet-5 on Built-in shapes"."""
    return f"{network(config.get('model', 'lenet5'))} on {data(config.get('data', 'shapes'))}"


def plural(n: int, word: str) -> str:
    """``word`` as it goes with ``n``: "1 row", "2 rows" (regular plurals only)."""
    return word if n == 1 else word + "s"


def listed(items: Sequence[object], most: int | None = None) -> str:
    """"a, b and c"; past ``most`` items, the rest are counted ("a, b and 3 others")."""
    shown = [str(item) for item in items[:most]] + ([f"{len(items) - most} others"] if most and len(items) > most
                                                    else [])
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


def ordinal(n: int) -> str:
    """``n`` as a rank: "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st"."""
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def tex_int(n: int) -> str:
    """``n`` with thousands separators for a LaTeX formula: ``589{,}824`` (a bare comma there adds a space)."""
    return f"{n:,}".replace(",", "{,}")


def percent_pair(before: float, after: float, most: int = 4) -> tuple[str, str]:
    """Two probabilities as percentages with the fewest decimals (1 to ``most``) that tell them apart:
    (">99.9%", "99.2%"), (">99.99%", "99.96%"); equal ones with one decimal."""
    return percents(before, after, most=most)


def percents(*values: float, most: int = 4) -> tuple[str, ...]:
    """Probabilities as percentages with the fewest decimals (1 to ``most``) that tell the different ones
    apart: a random network's 0.1% against 0.1% becomes 0.10% against 0.12%. One that rounds to 100% reads
    ">99.9%" (as :func:`share` writes it), with as many nines as decimals; one that rounds to 0, "<0.1%" likewise."""
    for decimals in range(1, most + 1):
        shown = tuple(f"{v:.{decimals}%}" for v in values)
        if len(set(shown)) == len(set(values)):
            break
    else:
        decimals, shown = 1, tuple(f"{v:.1%}" for v in values)
    certain, nothing = f"{1:.{decimals}%}", f"{0:.{decimals}%}"
    return tuple(f">{100 - 10 ** -decimals:.{decimals}f}%" if text == certain else
                 f"<{10 ** -decimals:.{decimals}f}%" if text == nothing else text for text in shown)


def alike(*values: float, digits: int = 4) -> tuple[str, ...]:
    """Numbers shown together with the same decimals: ``digits`` significant ones for the largest, so
    scores read 10.12, 10.05, 9.98 rather than 10.1, 10, 9.98, and -1.575 and 0.551 rather than 0.5511."""
    largest = max((abs(v) for v in values if math.isfinite(v)), default=0.0)
    decimals = max(0, digits - 1 - math.floor(math.log10(largest))) if largest > 0 else digits - 1
    return tuple(f"{v:.{decimals}f}" for v in values)


def text_px(text: str) -> int:
    """About how wide ``text`` is drawn in a table cell (Streamlit's dataframe font, 14 px): a digit 7 px, a letter
    6, a space 3 and other marks 4, as measured on the Receptive fields table."""
    return sum(7 if c.isdigit() else 6 if c.isalpha() else 3 if c == " " else 4 for c in text)


def column_widths(rows: Sequence[Mapping[str, object]], least: Mapping[str, int], padding: int = 12) -> dict[str, int]:
    """Widths in px for a table's columns ``least``: each at least its given width, wider where a header or a cell
    needs it, so nothing is cut (ResNet's "224x224" in a column sized for LeNet's "28x28"); the table scrolls."""
    return {name: max(width, max(text_px(str(row.get(name, ""))) for row in [{name: name}, *rows]) + padding)
            for name, width in least.items()}


NAME_MOST = 80  # characters in a run's name
_MARKUP = set("`[]<>\\$")  # what makes a link, an image, HTML, code or LaTeX: never in a run's name
_JOINERS = "\u200c\u200d"  # zero-width (non-)joiners: Persian and Indic words and emoji like 👩‍💻 need them


def plain_name(text: str, most: int = NAME_MOST) -> str:
    """``text`` as a run's or an upload's name: one line of printable characters, spaces collapsed, at most ``most``,
    and none of the marks that make links, images, HTML, code or LaTeX (a classmate's name is shown to the class).
    An HTML tag goes whole: "<b>net</b>" is "net", not "bnet/b"."""
    untagged = re.sub(r"</?(?:h[1-6]|[A-Za-z]+)(\s+[^<>]{0,200}=[^<>]{0,200})?\s*/?>", " ", str(text))
    kept = "".join(" " if not (c.isprintable() or c in _JOINERS) or c.isspace() else c for c in untagged
                   if c not in _MARKUP)
    return " ".join(kept.split())[:most].strip()


_WORD_JOINER = "\u2060"  # invisible, and it breaks what a Markdown renderer would read as a web or mail address


def md_text(text: object) -> str:
    """``text`` shown as itself inside Markdown: every ASCII punctuation mark backslash-escaped, so a name like
    "[click](https://...)", "![x](url)" or "**bold**" stays words, and a word joiner before "://" and "@" and after
    "www", where Streamlit would link a bare "https://..." or "www.example.com" even so; lines as one."""
    text = re.sub("(?i)(?<=www)|(?=://)|(?=@)", _WORD_JOINER, " ".join(str(text).split()))
    return "".join("\\" + c if c in string.punctuation else c for c in text)


def code(text: object) -> str:
    """``text`` as a Markdown code span, whatever backticks it holds (fenced by one more than its longest run)."""
    text = " ".join(str(text).split())
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def plot_text(text: object) -> str:
    """``text`` shown as itself in a plotly title or legend (which read ``<b>``, ``<a href>`` and the like)."""
    return html.escape(str(text), quote=False)


# marks a file's name may drop without a trace: ASCII punctuation ("lr=0.1 / batch 64", "T-shirt/top") and a few
# typographic ones; "|" and "\\" stay telling (TinyVGG's classes "line |" and "line /" would read alike)
_DECORATION = (set(string.punctuation) - set("|\\")) | set("×→…·±–")


def file_stem(text: str, most: int = 40, tagged: bool = True) -> str:
    """``text`` as a file name's part: lower case, ASCII letters and digits, one dash between words ("LeNet-5 on
    Built-in shapes #1" -> "lenet-5-on-built-in-shapes-1"), cut after a whole word to at most ``most`` characters.
    ``tagged``: where it drops a mark that tells names apart (TinyVGG's class "line |", an em dash, a "ü", an
    emoji), four characters of the text's hash follow ("line-e236"), so two names do not share a file's name
    (``tagged=False`` where a run's id follows anyway)."""
    stem = "-".join("".join(c if c.isascii() and c.isalnum() else " " for c in text.lower()).split())
    if len(stem) > most:
        cut = stem[:most + 1].rsplit("-", 1)[0]
        stem = cut if "-" in stem[:most + 1] else stem[:most]
    stem = stem or "file"
    if tagged and any(not (c.isascii() and c.isalnum() or c.isspace() or c in _DECORATION) for c in text):
        stem += "-" + hashlib.sha256(text.encode()).hexdigest()[:4]
    return stem


def decimal_comma(text: object) -> str:
    """" (decimals take a point: 2.5)" for one number typed with a decimal comma ("2,5"), else "": a hint to
    add where such a cell is refused as not a number. "1,2,3" gets none (no guess at what it meant)."""
    if isinstance(text, str) and re.fullmatch(r"\s*[-+]?\d*,\d+\s*", text):
        return f" (decimals take a point: {text.strip().replace(',', '.')})"
    return ""


def link_cell(text: str) -> str:
    """A typed cell for a link that splits its cells at "," ";" and "=": those (and "%") written as %2C, %3B...,
    so "1,5" comes back as typed, with its hint, where it came back as "1 5". :func:`from_link_cell` reads it."""
    return re.sub(r"[%,;=]", lambda found: f"%{ord(found.group()):02X}", text)


def from_link_cell(text: str) -> str:
    """A cell as :func:`link_cell` wrote it, as it was typed."""
    return urllib.parse.unquote(text)


def share(p: float) -> str:
    """A probability as a percentage to one decimal; below 0.05%, "<0.1%" (a runner-up's "0.0%" said nothing);
    from 99.95%, ">99.9%" (LeNet-5's 99.9992% read "100.0%", as if certain), 1 too: a softmax is never 1, a float
    rounds it there (TinyVGG's circle, 1 - 3e-20)."""
    if p >= 0.9995:
        return ">99.9%"
    return f"{p:.1%}" if p >= 0.0005 else "<0.1%"
