// The lab's additions to Locust's start form (see locustfiles/webui.py):
// a "Server under load" list that fills in the Host, and one scenario ticked.
// Locust's page is a React app that renders after this script runs, and
// again each time "New" opens the form, so the additions wait for the form.
function labForm(lab) {
  "use strict";

  // React owns the Host field: set it as a keystroke would, so its state follows.
  function setHost(input, url) {
    const setValue = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;
    setValue.call(input, url);
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function serverList(host) {
    const box = document.createElement("div");
    box.id = "lab-server";
    const label = document.createElement("label");
    label.htmlFor = "lab-server-select";
    label.textContent = "Server under load";
    label.style.cssText = "display:block;font-weight:bold;margin-bottom:6px";
    // No name: the list only fills in the Host, which is what Locust sends.
    const select = document.createElement("select");
    select.id = "lab-server-select";
    select.style.cssText = "width:100%;padding:12px;font-size:1rem;border-radius:4px";
    for (const server of lab.servers) {
      select.add(new Option(server.label, server.url, false, server.url === host.value));
    }
    if (!lab.servers.some((server) => server.url === host.value)) {
      // A host typed by hand: the list names none of the lab's servers.
      select.add(new Option("(another host, as typed below)", "", true, true));
    }
    select.addEventListener("change", () => {
      if (select.value) setHost(host, select.value);
    });
    box.append(label, select);
    return box;
  }

  function tickOnly(scenario) {
    if (!scenario) return;
    for (const row of document.querySelectorAll("tbody tr")) {
      const box = row.querySelector("input[type=checkbox]");
      const name = row.querySelector("td:nth-child(2)");
      if (box && name && box.checked !== (name.textContent.trim() === scenario)) box.click();
    }
  }

  function improve() {
    const host = document.querySelector("form input[name=host]");
    if (!host || host.dataset.lab) return;
    host.dataset.lab = "seen";
    // First thing under the form's heading, above the scenarios (the class
    // picker); the Host field it fills stays where Locust puts it.
    const heading = host.closest("form").parentElement.querySelector("h2");
    const list = serverList(host);
    list.style.margin = "16px 0";
    if (heading) heading.after(list);
    else host.closest("form").before(list);
    tickOnly(lab.first_scenario);
  }

  new MutationObserver(improve).observe(document.documentElement, { childList: true, subtree: true });
}
