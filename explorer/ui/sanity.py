"""Why this prediction's sanity check (Adebayo et al. 2018): the same maps from the network with random weights,
and how much each changed; on request, with the layers drawn afresh one at a time from the top down (the
cascade)."""

from __future__ import annotations

import streamlit as st
import torch

from explorer import (attribution, cam as cams, deeplift, explain_figures, gradient_shap, labels, lrp, randomization,
                      sanity_figures, shapley)
from explorer.ui import beside_ig, cam_controls, charts, explanations, layout, map_row, memo, state
from explorer.ui.explanations import Smoothing
from explorer.ui.model_input import Network

Checked = tuple[str, attribution.Attribution, attribution.Attribution, float]  # method, trained, random, rho
KEYS = {"GradientSHAP": "gshap", "Shapley values": "squares"}  # the pictures' keys: else their first three letters
Cascade = list[tuple[str, dict[str, float]]]  # (the lowest layer drawn afresh so far, {method: rho}), top down
STOPS = 8  # at most this many steps of the cascade: a deep network's layers are drawn a few at a time


def settings() -> list[state.Setting]:
    return [state.Setting("why_sanity", "sanity", False, state.boolean, state.dump_bool),  # the fold open
            state.Setting("why_cascade", "cascade", False, state.boolean, state.dump_bool)]


def checked(network: Network, digest: str, image: torch.Tensor, target: int | None, layer: str, smooth: Smoothing,
            steps: int, baseline: str, cam: str = "gradcam", rule: str = "riemann",
            beside: beside_ig.Beside = beside_ig.Beside()) -> list[Checked]:
    """Each method's map from the trained network and from the same network with random weights, and Spearman's
    rank correlation of their magnitudes (computed once per server, with progress). ``cam``: the class activation
    map's method; with guided backprop, their product (Guided Grad-CAM) too; ``beside``, the maps under integrated
    gradients that the page shows (DeepLIFT, GradientSHAP, the squares' Shapley values, LRP), made again with their
    settings."""
    def compute(report: memo.Report) -> list[Checked]:
        gradient, mapped = explanations.explained(network, digest, image, target, layer, smooth, cam, augment)
        trained = {"Saliency": gradient, **({"Grad-CAM": mapped} if mapped is not None else {}),
                   "Integrated gradients": explanations.integrated(network, digest, image, target, steps, baseline,
                                                                   rule)}
        if smooth.guided and mapped is not None:
            trained["Guided Grad-CAM"] = cams.guided_map(gradient, mapped)
        explained = next(iter(trained.values())).target  # the random network's maps for the same class, not its own
        fresh = randomization.randomized(network.model)
        report(0, maps)
        randomised = _maps(fresh, image, explained, layer, smooth, steps, baseline, cam, rule, smoothed, beside,
                           starts, report)
        trained.update(_beside_maps(beside))
        return [(method, trained[method], randomised[method],
                 randomization.rank_correlation(trained[method].heat, randomised[method].heat))
                for method in trained]

    augment = cam_controls.augment_allowed(image)  # both maps alike: the trained one too, where it is left out
    smoothed = cam_controls.keywords(cam, augment)
    maps = _map_count(layer, smooth, beside)
    starts = _starts(network, image, beside)
    return memo.computed("why_sanity", (network.key, digest, target, cam_controls.layer_key(layer, cam), smooth,
                                        steps, baseline, cam, rule, *smoothed.values(), *_beside_key(beside)),
                         compute,
                         lambda done, total: memo.counted("The same maps from random weights", done, total,
                                                          "maps" if total == maps else "maps and passes"))


def _maps(model: torch.nn.Module, image: torch.Tensor, explained: int, layer: str, smooth: Smoothing, steps: int,
          baseline: str, cam: str, rule: str, smoothed: dict, beside: beside_ig.Beside,
          starts: torch.Tensor | None = None, report: memo.Report | None = None) -> dict[str, attribution.Attribution]:
    """The page's maps for class ``explained`` from ``model`` (a network drawn afresh), by method; ``starts``,
    GradientSHAP's baselines where the page shows it; ``report(done, total)`` after each map, Score-CAM's and
    Ablation-CAM's passes counted among them."""
    count = _map_count(layer, smooth, beside)
    done, passes = 0, 0

    def made() -> None:
        nonlocal done
        done += 1
        if report is not None:
            report(done + passes, count + passes)

    def cam_passes(finished: int, total: int) -> None:  # counted as maps: they are most of the wait
        nonlocal passes
        passes = total
        if report is not None:
            report(done + finished, count + total)

    maps = {"Saliency": explanations.gradient_of(model, image, explained, smooth)}
    made()
    if layer:
        maps["Grad-CAM"] = cams.class_map(model, image, layer, explained, cam, progress=cam_passes, **smoothed)
        made()
    maps["Integrated gradients"] = attribution.integrated_gradients(model, image, explained, steps,
                                                                    baseline=baseline, rule=rule)
    made()
    if smooth.guided and layer:
        maps["Guided Grad-CAM"] = cams.guided_map(maps["Saliency"], maps["Grad-CAM"])
        made()
    if beside.lifted is not None:
        maps["DeepLIFT"] = deeplift.deep_lift(model, image, explained, beside.lifted.baseline)
        made()
    if beside.shap is not None:  # the same draws: baselines and points on the path from the same seed
        maps["GradientSHAP"] = gradient_shap.gradient_shap(model, image, starts, explained, beside.shap.samples)
        made()
    if (squares := beside.squares) is not None:  # its images read again: exact again, or the same draws
        maps["Shapley values"] = shapley.region_shapley(model, image, explained, squares.grid, squares.baseline,
                                                        squares.draws)
        made()
    if beside.relevance is not None:  # its batch norms folded anew for each step of the cascade: the state changed
        maps["LRP"] = lrp.lrp(model, image, explained, beside.relevance.rule, beside.relevance.epsilon)
        made()
    return maps


def _map_count(layer: str, smooth: Smoothing, beside: beside_ig.Beside) -> int:
    """How many maps :func:`_maps` makes: saliency and integrated gradients, the class activation map where there
    is a layer (and Guided Grad-CAM with guided backprop), the maps under integrated gradients the page shows."""
    return 2 + bool(layer) * (1 + smooth.guided) + len(_beside_maps(beside))


def _beside_maps(beside: beside_ig.Beside) -> dict[str, attribution.Attribution]:
    """The maps under integrated gradients the page shows, in its order."""
    return {method: made for method, made in zip(BESIDE, beside) if made is not None}


BESIDE = ("DeepLIFT", "GradientSHAP", "Shapley values", "LRP")  # beside_ig.Beside's maps, by name


def _beside_key(beside: beside_ig.Beside) -> tuple:
    """What of ``beside`` the check's maps depend on: DeepLIFT's baseline, GradientSHAP's baselines and draws, the
    squares' grid, baseline and images read, LRP's rule and epsilon."""
    return (beside.lifted and beside.lifted.baseline, beside.shap and (beside.shap.source, beside.shap.samples),
            beside.squares and (beside.squares.grid, beside.squares.baseline, beside.squares.draws),
            beside.relevance and (beside.relevance.rule, beside.relevance.epsilon))


def _starts(network: Network, image: torch.Tensor, beside: beside_ig.Beside) -> torch.Tensor | None:
    """GradientSHAP's baselines, as the page drew its map from them (None where it shows none)."""
    return None if beside.shap is None else beside_ig.shap_baselines(network, image, beside.shap.source)


def cascaded(network: Network, digest: str, image: torch.Tensor, layer: str, smooth: Smoothing, steps: int,
             baseline: str, cam: str, rule: str, results: list[Checked],
             beside: beside_ig.Beside = beside_ig.Beside()) -> Cascade:
    """Each method's map at each step of the cascade (:func:`randomization.cascade`), and its rank correlation with
    the trained network's map in ``results`` (computed once per server, with progress). The squares' Shapley values
    stay out where each step would read their images for minutes (:func:`squares_cascade`)."""
    if beside.squares is not None and not squares_cascade(image):
        beside = beside._replace(squares=None)
    trained = {method: made for method, made, _, _ in results if method != "Shapley values" or beside.squares}
    explained = results[0][1].target
    smoothed = cam_controls.keywords(cam, cam_controls.augment_allowed(image))
    starts = _starts(network, image, beside)

    def compute(report: memo.Report) -> Cascade:
        total, made = len(randomization.cascade_stops(len(randomization.cascade_layers(network.model)), STOPS)), []
        report(0, total)
        for done, (name, fresh) in enumerate(randomization.cascade(network.model, STOPS), start=1):
            maps = _maps(fresh, image, explained, layer, smooth, steps, baseline, cam, rule, smoothed, beside, starts)
            made.append((name, {method: randomization.rank_correlation(trained[method].heat, maps[method].heat)
                                for method in trained}))
            report(done, total)
        return made

    return memo.computed("why_cascade", (network.key, digest, explained, cam_controls.layer_key(layer, cam), smooth,
                                         steps, baseline, cam, rule,
                                         *smoothed.values(), *_beside_key(beside)),
                         compute, lambda done, total: memo.counted("Drawing the layers afresh from the top down",
                                                                   done, total, "steps"))


def squares_cascade(image: torch.Tensor) -> bool:
    """Whether the cascade's steps read the squares' images again: not for a 224 px network on a CPU, where each
    step's 1,024 images take a minute."""
    return image.shape[-1] <= 64 or torch.cuda.is_available()


def guided_name(smooth: Smoothing, cam: str) -> str:
    """Guided Grad-CAM's name in a 150 px title: "G. EigenGrad-CAM" where "Guided EigenGrad-CAM" is cut, and on two
    lines at its "×" where even that is ("G. VarGrad ×<br>Grad-CAM")."""
    name = map_row.fused_title(smooth, cam)
    for made in (name, name.replace("Guided ", "G. ")):
        if explain_figures.title_fits(f"{made}:", layout.SMALL_PICTURE_PX):
            return made
    return name.replace("Guided ", "G. ").replace(" × ", " ×<br>")


def _titled(name: str, when: str) -> str:
    """A picture's title: the map's name, then "trained" or "random" on a line of its own, or after a name on two
    lines where its last line leaves room (three lines squeeze the picture)."""
    last = name.split("<br>")[-1]
    if "<br>" in name and explain_figures.title_fits(f"{last}: {when}", layout.SMALL_PICTURE_PX):
        return f"{name}: {when}"
    return f"{name}:<br>{when}"


def shown(heat: torch.Tensor) -> torch.Tensor:
    """A map's magnitudes as the page's other maps are drawn (clipped where it asks): scaled to their largest."""
    return attribution.clipped(heat.abs(), map_row.outliers())


def words(rho: float) -> str:
    """How much a map changed with the weights, in words (Spearman's rho of the magnitudes, judged as shown: to two
    decimals, so 0.7996 and 0.80 beside it do not read apart)."""
    rho = round(rho, 2)
    if rho >= 0.8:
        return "hardly changed: it shows the image more than what the network learned"
    if rho >= 0.5:
        return "partly changed"
    return "changed: it depends on what the network learned"


def draw(network: Network, digest: str, image: torch.Tensor, target: int | None, layer: str, smooth: Smoothing,
         ig: attribution.IntegratedGradients, cam: str = "gradcam", beside: beside_ig.Beside = beside_ig.Beside(),
         ) -> None:
    """The fold: computed only when open, for trained weights. ``ig``: the page's integrated gradients, whose steps
    and baseline the random network's follow; ``cam``: the class activation map's method; ``beside``: the maps
    under integrated gradients the page shows."""
    with st.expander("Sanity check: the same maps from random weights", icon=":material/fact_check:",
                     key="why_sanity", on_change="rerun"):
        if not network.pretrained:
            st.info("This network has random weights already: switch on its trained weights to compare the two.")
            return
        if not st.session_state.why_sanity:
            return
        results = checked(network, digest, image, target, layer, smooth, ig.steps, ig.baseline, cam, ig.rule, beside)
        if layer:
            cam_controls.repeated_augment(image, "Both class activation maps of the check")
        st.markdown("Adebayo et al. 2018: draw the network's weights afresh and explain again. A map that "
                    "barely changes shows the image (its edges, its ink) rather than what the network learned. "
                    "Each pair: the trained network's map above, the random one's below, magnitudes only; the "
                    "number is Spearman's rank correlation of the two (1: the same order of pixels), over the pixels "
                    "either map marks (a background both leave at 0 would agree for any weights)."
                    + (f" {map_row.fused_title(smooth, cam)}, {map_row.gradient_words(smooth)}'s map "
                       f"times {cams.METHODS[cam]}'s, looks as if it knew the class; Adebayo et al. found that Guided "
                       "Grad-CAM, as guided backprop, changes little while only the top layers' weights are drawn "
                       "afresh (here every layer's are: \"Layer by layer\" below draws them from the top down)."
                       if any(method == "Guided Grad-CAM" for method, *_ in results) else "")
                    + (f" {cams.METHODS[cam]}'s bias terms are all zero in the random network (its batch norms "
                       "add nothing when drawn afresh, and its convolutions have no bias): its map is the input times "
                       "its gradient alone." if cam in cams.LAYERLESS and layer
                       and not randomization.fresh_biases(network.model) else ""))
        for cell, (method, trained, fresh, rho) in zip(layout.cells(len(results), layout.SMALL_PICTURE_PX), results):
            # "Integrated gradients" and "Guided SmoothGrad" are cut in a 150 px title
            name = {"Saliency": smooth.title.replace("Guided SmoothGrad", "Guided SG"),
                    "Grad-CAM": cams.METHODS[cam], "Integrated gradients": "Integr. gradients",
                    "Guided Grad-CAM": guided_name(smooth, cam)}.get(method, method)
            for when, result in (("trained", trained), ("random", fresh)):
                charts.show(cell, explain_figures.picture_figure(
                    attribution.overlay(image, shown(result.heat)), _titled(name, when), 200,
                    layout.SMALL_PICTURE_PX), key=f"why_fig_sanity_{KEYS.get(method, method[:3].lower())}_{when}")
            if not (trained.heat.any() and fresh.heat.any()):  # integrated gradients from black on a black image
                cell.caption("**–**: a map is blank on this image, so there is nothing to compare.")
            else:
                cell.caption(f"**{rho:.2f}**: {words(rho)}.")
        layout.toggle(st, "Layer by layer, from the top", key="why_cascade",
                      help="Adebayo et al.'s cascading randomization: the layers drawn afresh one at a time from the "
                           "output down, the maps made again after each. A map that stays alike while the top "
                           "layers change does not depend on what they learned.")
        if st.session_state.why_cascade:
            _draw_cascade(network, digest, image, layer, smooth, ig, cam, results, beside)


def _draw_cascade(network: Network, digest: str, image: torch.Tensor, layer: str, smooth: Smoothing,
                  ig: attribution.IntegratedGradients, cam: str, results: list[Checked],
                  beside: beside_ig.Beside) -> None:
    """The cascade's lines and what they say."""
    steps = cascaded(network, digest, image, layer, smooth, ig.steps, ig.baseline, cam, ig.rule, results, beside)
    names = {"Saliency": smooth.title, "Grad-CAM": cams.METHODS[cam], "Integrated gradients": "Integrated gradients",
             "Guided Grad-CAM": map_row.fused_title(smooth, cam), **{method: method for method in BESIDE}}
    if beside.squares is not None and not squares_cascade(image):
        st.caption("The squares' Shapley values stay out of the lines: each step would read their images again, a "
                   "minute on this server's CPU.")
    charts.show(st, sanity_figures.cascade_figure(steps, names, min(layout.VIEW_PX, 760)), key="why_fig_cascade")
    normed = any(isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) for m in network.model.modules())
    squares = beside.squares.grid ** 2 if beside.squares is not None and squares_cascade(image) else 0
    st.caption(cascade_note(steps, names, len(randomization.cascade_layers(network.model)), normed, squares))


def cascade_note(steps: Cascade, names: dict[str, str], layers: int, normed: bool = False, squares: int = 0) -> str:
    """What the cascade did, and for each map the first layer whose drawing made it change (rho below 0.5); with
    the Shapley values of ``squares`` squares, that their line moves in steps."""
    drawn = (f"all {layers} convolutions and linear layers" if len(steps) == layers else
             f"its {layers} convolutions and linear layers, the lines stopping at {len(steps)} of them")
    changed, stayed = [], []
    for method in steps[0][1]:
        fell = next((name for name, rhos in steps if round(rhos[method], 2) < 0.5), None)
        if fell is None:
            stayed.append(names[method])
        else:
            changed.append((names[method], fell))
    said = [f"{name} changes once `{fell}` is drawn afresh" if k == 0 else f"{name}, once `{fell}`"
            for k, (name, fell) in enumerate(changed)]
    if stayed:
        said.append(f"{labels.listed(stayed)} {'stays' if len(stayed) == 1 else 'stay'} at least partly alike "
                    "(ρ ≥ 0.5) to the end")
    return (f"Adebayo et al. 2018's cascade: the network's weights drawn afresh from the output down, {drawn}"
            f"{', each with its batch norms' if normed else ''}, the last step the random network of the pairs "
            "above. Each point: how alike the map stays to the trained network's (Spearman's ρ of the magnitudes, as "
            f"above). {'; '.join(said)}. A map that changes only when the lowest layers do shows the image's edges "
            "more than the class."
            + (f" The Shapley values rank only {squares} squares: their line moves in large steps, up as well as "
               "down." if squares else ""))
