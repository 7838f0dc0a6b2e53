// Touch screens (a classroom's tablets and phones), where Streamlit 1.67 and plotly.js fall short. Run once per
// browser page: Streamlit moves between the app's pages without loading a new one.
(() => {
  if (window.cnnExplorerTouch) return;
  window.cnnExplorerTouch = true;

  // A tap on a chart picks what is under it. plotly.js selects the point its last hover found, and a finger makes
  // no hover before it lands: a tap selected nothing. A mousemove where it lands gives the chart that hover.
  document.addEventListener('touchstart', (event) => {
    const drag = event.touches.length === 1 && event.target.closest?.('.js-plotly-plot .nsewdrag');
    if (!drag) return;
    const touch = event.touches[0];
    drag.dispatchEvent(new MouseEvent('mousemove', {clientX: touch.clientX, clientY: touch.clientY, bubbles: true}));
  }, {capture: true, passive: true});

  // On a touch screen too narrow for the sidebar beside the page's controls and view, the sidebar starts shut and
  // shuts once a page is picked in it, as a phone's menu does: open, it covered the page it had just opened.
  const narrowTouch = () => matchMedia('(hover: none)').matches && innerWidth < 1100;
  const shut = () => document.querySelector('[data-testid=stSidebarCollapseButton] button[aria-expanded=true]')?.click();
  document.addEventListener('click', (event) => {
    if (narrowTouch() && event.target.closest?.('[data-testid=stSidebarUserContent] a')) setTimeout(shut, 100);
  }, true);
  if (narrowTouch()) setTimeout(shut, 300);
})();
