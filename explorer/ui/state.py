"""Settings that live in the URL and survive page switches.

A widget's value is restored, in order, from the URL query (a shared link), from what this
session last chose on the page (a page switch drops widget state), or from its default.
After the widgets ran, :func:`publish` writes the values back to the URL, so copying the
address reproduces the view. The parsers of a setting's text are :mod:`explorer.ui.parsers`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from explorer import labels
# the parsers a page gives its settings, at hand as state.choice(...) and so on
from explorer.ui.parsers import (boolean, choice, choices, dump_bool, float_between, float_choice,  # noqa: F401
                                index_below, int_between, int_choice, number, whole)

_KEPT = "_kept_settings"
_FROM_LINK = "_settings_from_link"
_PICKED = "_settings_page_defaults"
_PICKED_BEFORE = "_settings_page_defaults_before"  # the last run's
_WRITTEN = "_settings_written"  # per page: the queries publish() wrote this session, the last one first
_BACK = "_settings_back"
_PAGE = "_settings_page"  # the script of the page this run draws (layout.page_setup says it first)
_ARRIVED = "_settings_arrived"  # whether the run before drew another page
_LINKS = "_settings_links"  # per page script: the query publish() wrote last, for the sidebar's link to that page
_LINKS_DUE = "_settings_links_due"  # the sidebar's links, drawn by this run's first restore()
_CARRIED = "_settings_carried"  # URL name -> the value a visitor chose for a carried setting (Setting.carry)
_CARRY_DEFAULTS = "_settings_carry_defaults"  # URL name of each carried setting seen -> its default there
_BOUND = "_settings_bound"  # per page script: the URL names of its choices made for one model (model_bound)


@dataclass(frozen=True)
class Setting:
    """A widget key bound to a URL parameter with its default and text conversions."""

    key: str  # widget key, unique across pages
    param: str  # short name in the URL
    default: Any
    parse: Callable[[str], Any] = str
    dump: Callable[[Any], str] = str
    carry: bool = False  # the session's value holds on every page that takes it (the model, the image)


def restore(settings: Sequence[Setting], also: Sequence[str] = ()) -> None:
    """Before the widgets: give every widget key its value (URL > kept > default).

    A URL value that does not parse is dropped with a warning naming the parameter, and so are names that are no
    setting of the page (nor in ``also``: names the page writes itself, such as a custom kernel's ``kv``).
    """
    _check_unique(settings)
    _unknown(settings, also)
    kept = st.session_state.setdefault(_KEPT, {})
    st.session_state[_FROM_LINK] = set()
    st.session_state[_PICKED_BEFORE] = st.session_state.get(_PICKED, {})
    st.session_state[_PICKED] = {}
    back = st.session_state[_BACK] = _went_back(settings)
    arrived = st.session_state.get(_ARRIVED, False)
    for s in settings:
        if back:  # the link wins over the widgets, and a setting it leaves out is at its default
            st.session_state.pop(s.key, None)
            kept.pop(s.key, None)
        current = st.session_state.get(s.key)
        if current is not None and not (arrived and s.param in st.query_params):  # a link's value wins on arrival
            # Streamlit 1.67 sends a choice back as its displayed text and, when that wording changes (another
            # model's class names, a mode's own labels), hands the old text to the page as the value. Set as a
            # value, the choice is displayed afresh with this run's wording.
            st.session_state[s.key] = current
            continue
        # a segmented control drawn again after a run that skipped it comes back empty: that is not a choice
        if s.key in st.session_state and s.default is None:
            continue
        value = kept.get(s.key, s.default)
        raw = st.query_params.get(s.param)
        # the last one counts, as st.query_params reads it; the same value twice is written once, without a word
        twice = len(set(given := st.query_params.get_all(s.param))) > 1
        if raw is not None:
            try:  # the default's own text is the default, where a parser refuses a blank ("run=": no run)
                value = s.default if raw == s.dump(s.default) else s.parse(raw)
                st.session_state[_FROM_LINK].add(s.key)
                if twice:
                    link_ignored(s.param, ",".join(given[:-1]), f"the link gives `{s.param}` {len(given)} times: "
                                 f"the last one, {raw[:40] or 'empty'}, is used")
            except (TypeError, ValueError) as exc:  # one word for all of them: none is used
                link_ignored(s.param, ",".join(given) if twice else raw,
                             f"the link gives `{s.param}` {len(given)} times and the last one cannot be used ({exc})"
                             if twice else str(exc))
        st.session_state[s.key] = value
    carried = st.session_state.setdefault(_CARRIED, {})
    for s in settings:
        if s.carry:
            _carry(carried, s, st.session_state[s.key])
    if draw := st.session_state.pop(_LINKS_DUE, None):
        draw()


def _unknown(settings: Sequence[Setting], also: Sequence[str]) -> None:
    """Name the link's parameters that are no setting of this page (another page's, pasted under this one's
    path): publish() leaves them out of the address, and the view had shown its defaults without a word."""
    if _history_navigation():  # Back or Forward: an address this app wrote, not a link someone pasted
        return
    unknown = sorted(set(st.query_params) - {s.param for s in settings} - set(also))
    if unknown:
        names = labels.listed([labels.code(name[:40]) for name in unknown], 5)
        st.warning(f"The link's {names} {'is' if len(unknown) == 1 else 'are'} not "
                   f"{'a setting' if len(unknown) == 1 else 'settings'} of this page: left out. A link from another "
                   "page opens on its own page.")


def _page(settings: Sequence[Setting]) -> str:
    return ",".join(s.key for s in settings)


def _went_back(settings: Sequence[Setting]) -> bool:
    """Whether the browser's Back or Forward button brought the page's address to another view.

    Each setting change is an entry of the browser's history, and Back reruns the page with the former address;
    the widgets, which keep their own values, wrote the later one straight back, so Back seemed dead. The bare
    address a page switch passes through is taken for a view only where this session wrote it (the defaults):
    else Back to it would show a view nobody saw.
    """
    if not _history_navigation():  # a click sent before the last address reached the browser carries the one before
        return False
    written = st.session_state.get(_WRITTEN, {}).get(_page(settings), [])
    query = _query()
    # the page's last address too: Back from another page, where the session chose another model since
    return bool(written) and (bool(query) or query in written)  # (after a reload, too)


def _history_navigation() -> bool:
    """Whether the browser's Back or Forward button started this run (Streamlit marks such a rerun)."""
    return bool(getattr(get_script_run_ctx(), "is_history_navigation", False))


def history_navigation() -> bool:
    """Whether the browser's Back or Forward button started this run: the address is one this app wrote, and a
    setting it leaves out is at its default, whatever the session chose since."""
    return _history_navigation()


def came_back() -> bool:
    """Whether this run's :func:`restore` took the settings from an address the browser went Back (or Forward) to:
    a page's own state beyond its settings (an edited grid) should then start again from the link too. A fragment's
    own rerun (a scrubber dragged after Back) runs no :func:`restore`: it did not come back."""
    return st.session_state.get(_BACK, False) and not getattr(get_script_run_ctx(), "fragment_ids_this_run", None)


def _query() -> dict[str, str | list[str]]:
    """The URL's query. A name given more than once keeps all its values, so the address differs from the one
    value used and :func:`publish` writes it once (the link's warning had come back on every visit)."""
    return {name: values[0] if len(values := st.query_params.get_all(name)) == 1 else values
            for name in st.query_params}


def _check_unique(settings: Sequence[Setting]) -> None:
    """Two settings on one widget key or one URL name would overwrite each other: a page's mistake."""
    for what, names in (("widget key", [s.key for s in settings]), ("URL name", [s.param for s in settings])):
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"settings share a {what}: {', '.join(twice)}")


def from_link(key: str) -> bool:
    """Whether this run took ``key``'s value from the link (so a value the page cannot use deserves a word)."""
    return key in st.session_state.get(_FROM_LINK, ())


def implied(key: str, value: Any, params: Sequence[str]) -> None:
    """A link (or the address Back went to) that gives any of ``params``, the URL names only ``key``'s ``value``
    uses (a grid of one's own), but not a usable ``key``, means that value: the page had shown its default, the
    numbers left in the address unseen."""
    read = st.session_state.get(_ARRIVED, False) or st.session_state.get(_BACK, False)
    if read and not from_link(key) and any((st.query_params.get(param) or "").strip(" ;,\n") for param in params):
        st.session_state[key] = value


def mark_from_link(key: str) -> None:
    """Count ``key``'s value as the link's for this run (a value a page moved from a former setting's name)."""
    st.session_state.setdefault(_FROM_LINK, set()).add(key)


def link_ignored(param: str, raw: object, why: str) -> None:
    """Say that the link's ``param=raw`` could not be used here, in the words :func:`restore` uses. A long value is
    cut to 40 characters, in the reason too (a parser's words repeat it: 5,000 x's had filled the screen)."""
    text = str(raw)
    if len(text) > 40:
        text, why = text[:40] + "…", why.replace(text, text[:40] + "…")[:400]
    st.warning(f"The link's {labels.code(f'{param}={text}')} was ignored: {why}.")


def odd(key: str, param: str, what: str) -> None:
    """Make an even value of the setting ``key`` the next odd one, for a slider that steps through odd values; a
    link's is named in a warning. ``what`` says why, e.g. "the Versions slider takes odd counts"."""
    if st.session_state[key] % 2 == 0:
        if from_link(key):
            link_ignored(param, st.session_state[key], f"{what}, so {st.session_state[key] + 1}")
        st.session_state[key] += 1


def at_most(key: str, param: str, high: int, what: str) -> None:
    """Keep the index setting ``key`` within ``0..high``; a link's larger value is named in a warning.

    ``what`` names the range, e.g. "`conv1` has channels 0..15".
    """
    if st.session_state[key] > high:
        if from_link(key):
            link_ignored(param, st.session_state[key], f"{what}, so {high} is shown")
        st.session_state[key] = high


def page_default(key: str, value: Any) -> Any:
    """Declare (every run) what the page shows for ``key`` when the link leaves it out: the first layer...

    Such a setting's default is a blank that means "the page picks"; :func:`publish` leaves the page's
    pick out of the link just as it leaves a default out. Returns ``value``.
    """
    st.session_state.setdefault(_PICKED, {})[key] = value
    return value


def publish(settings: Sequence[Setting], extra: dict[str, str] | None = None) -> None:
    """After the widgets: keep the values for this session and write them to the URL.

    Only values that differ from their default (or from this run's :func:`page_default`) go into the
    URL, so links stay short; a default the address already states stays (a link that names the model it opens
    had the page write it out, and the browser's history took that for a second step).
    """
    kept = st.session_state.setdefault(_KEPT, {})
    carried = st.session_state.setdefault(_CARRIED, {})
    # a page's pick declared after an early publish: the last run's, until this run declares it (else it went into
    # the link and left it again, two steps of the browser's history for one change)
    picked = st.session_state.get(_PICKED_BEFORE, {}) | st.session_state.get(_PICKED, {})
    stated, params = _query(), {}
    for s in settings:
        value = st.session_state.get(s.key, s.default)
        if s.dump(value) == s.dump(s.default):  # another page's own default shows there (its sample, not this one's)
            kept.pop(s.key, None)
        else:
            kept[s.key] = value
        left_out = {s.dump(s.default)} | ({s.dump(picked[s.key])} if s.key in picked else set())
        if s.dump(value) not in left_out or stated.get(s.param) == s.dump(value):
            params[s.param] = s.dump(value)
        if s.carry:
            _carry(carried, s, value)
    params.update(extra or {})
    if _query() != params:
        st.query_params.from_dict(params)
    written = st.session_state.setdefault(_WRITTEN, {}).setdefault(_page(settings), [])
    written[:] = [params, *(q for q in written if q != params)][:100]
    if page := st.session_state.get(_PAGE):
        st.session_state.setdefault(_LINKS, {})[page] = params


def _carry(carried: dict[str, str], s: Setting, value: Any) -> None:
    """Note the value of a carried setting a visitor chose (it differs from this page's default, or was carried
    here): a page's own default (the Kernel Lab's Edges picture) goes to no other page, a chosen Edges does."""
    st.session_state.setdefault(_CARRY_DEFAULTS, {})[s.param] = s.dump(s.default)
    if s.dump(value) != s.dump(s.default):
        carried[s.param] = s.dump(value)
    elif carried.get(s.param) != s.dump(value):
        carried.pop(s.param, None)


def bound_to_model(params: Sequence[str]) -> None:
    """Say which of this page's URL names are choices made for the model it shows (a layer, a class, a unit): a link
    to the page on another model leaves them out."""
    if page := st.session_state.get(_PAGE):
        st.session_state.setdefault(_BOUND, {})[page] = tuple(params)


def enter_page(script: str) -> None:
    """Say which page this run draws (``pages/kernel_lab.py``): :func:`publish` notes its address for
    :func:`link_query`, and :func:`restore` knows a run that came from another page."""
    st.session_state[_ARRIVED] = st.session_state.get(_PAGE) != script
    st.session_state[_PAGE] = script


def link_query(script: str, carries: bool = False) -> dict[str, str]:
    """The address this session last gave the page ``script``: a link to it there opens the page as it was left.
    A page that ``carries`` the model and image (:attr:`Setting.carry`) opens on those the session shows now.
    A bare link would pass through the page's bare address first, an entry of the browser's history that Back
    then took for the page at its defaults."""
    own = dict(st.session_state.get(_LINKS, {}).get(script, {}))
    if not carries:
        return own
    carried, defaults = st.session_state.get(_CARRIED, {}), st.session_state.get(_CARRY_DEFAULTS, {})
    default = defaults.get("model")
    # the page's own carried values give way to the session's (the settings seen with Setting.carry), and its
    # choices for another model than the one it will show mean nothing there
    left = set(defaults) | (set(st.session_state.get(_BOUND, {}).get(script, ()))
                            if own.get("model", default) != carried.get("model", default) else set())
    return {param: value for param, value in own.items() if param not in left} | carried


def links_after_restore(draw: Callable[[], None]) -> None:
    """Call ``draw`` (the sidebar's links) once this run's first :func:`restore` knows the values the page shows:
    drawn before, they carried the model and image of the run before (a link's, or a pick's, came one click late).
    A link to a page carries them (:func:`link_query`)."""
    st.session_state[_LINKS_DUE] = draw


def tab_setting(key: str, labels: Sequence[str], renamed: Mapping[str, str] | None = None) -> Setting:
    """The page's open tab as a setting: ``tab=<label>`` in the URL, the first tab by default. ``renamed``: a
    tab's former label and its label now, so that a link shared before the change still opens that tab."""
    parse, former = choice(labels), dict(renamed or {})
    return Setting(key, "tab", labels[0], lambda text: parse(former.get(text, text)))


def tabs(key: str, labels: Sequence[str]) -> Sequence[Any]:
    """Tabs whose open one is the widget ``key`` (see :func:`tab_setting`), so a link opens on it.

    Switching tabs reruns the page to write the URL; every tab's content still runs.
    """
    return st.tabs(list(labels), key=key, on_change="rerun")


def keep(key: str, value: Any) -> None:
    """Remember a non-widget value (e.g. an edited grid) for this session."""
    st.session_state.setdefault(_KEPT, {})[key] = value


def kept(key: str, default: Any = None) -> Any:
    """A value stored with :func:`keep`, or ``default``."""
    return st.session_state.setdefault(_KEPT, {}).get(key, default)
