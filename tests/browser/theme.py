"""JupyterLab's theme, switched as a user would, and the contrast a person actually sees."""

from __future__ import annotations

import contextlib

DARK, LIGHT = "JupyterLab Dark", "JupyterLab Light"

# The WCAG contrast ratio between an element's text colour and what lies behind it: the
# backgrounds of it and its ancestors composited from the page down. Colours are read through
# a canvas, so any CSS colour syntax (rgb(), color(srgb ...) from color-mix) is measured alike.
CONTRAST_JS = """(el, property) => {
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 1;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    const rgba = (css) => {
        ctx.clearRect(0, 0, 1, 1);
        ctx.fillStyle = '#000';
        ctx.fillStyle = css;
        ctx.fillRect(0, 0, 1, 1);
        const [r, g, b, a] = ctx.getImageData(0, 0, 1, 1).data;
        return [r, g, b, a / 255];
    };
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
        const style = getComputedStyle(node);
        const layer = rgba(style.backgroundColor);
        if (layer[3] > 0) layers.push(layer);
        if (layer[3] >= 1) break;
    }
    const over = (top, a, under) => top.map((c, i) => c * a + under[i] * (1 - a));
    let back = [255, 255, 255];
    for (const [r, g, b, a] of layers.reverse()) back = over([r, g, b], a, back);
    const style = getComputedStyle(el);
    const [r, g, b, a] = rgba(style[property]);
    const opacity = Number(style.opacity || 1);
    const alpha = a * opacity;
    const front = over([r, g, b], alpha, back);
    const lum = ([r, g, b]) => {
        const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const [hi, lo] = [lum(front), lum(back)].sort((x, y) => y - x);
    return { ratio: (hi + 0.05) / (lo + 0.05), text: front.map(Math.round), background: back.map(Math.round) };
}"""


def contrast(locator, property: str = "color") -> dict:
    """``{"ratio", "text", "background"}`` for the first element of ``locator`` (``fill`` for SVG text)."""
    return locator.first.evaluate(CONTRAST_JS, property)


def set_theme(page, theme: str) -> None:
    """Switch JupyterLab's theme through its own command (what the Settings menu does) and wait for it."""
    page.evaluate("(t) => window.jupyterapp.commands.execute('apputils:change-theme', { theme: t })", theme)
    light = "true" if theme == LIGHT else "false"
    page.wait_for_function(
        "(l) => document.body.dataset.jpThemeLight === l && !document.body.classList.contains('jp-mod-themeChanging')",
        arg=light,
        timeout=60_000,
    )
    page.wait_for_timeout(500)  # the theme's stylesheet applied


@contextlib.contextmanager
def dark_theme(page):
    """JupyterLab Dark for the block; the light theme again after it (the setting is saved for the server)."""
    set_theme(page, DARK)
    try:
        yield
    finally:
        set_theme(page, LIGHT)
