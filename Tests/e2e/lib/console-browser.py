#!/usr/bin/python3
"""The web console in a real browser: Debian's Chromium, headless, driven by Selenium through
Debian's chromedriver, against a real `vboot serve` (Tests/e2e/console.sh runs it inside the
rig's boot namespace and starts the guest when this script asks for it).

Prints one line per check, `PASS name` or `FAIL name: detail`; console.sh counts them. Every
page gets a screenshot in ARTEFACTS.

Arguments (JSON on stdin): url (the token listener), read_url (a listener whose clients are in
--api-read-network), token, mac, stuck_mac, boot_url, variables, rig_dir, artefacts.
CONSOLE_FLOWS=progress_rules,... runs only the flows named.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

ARGS = json.load(sys.stdin)
FAILED = 0


def report(ok, name, detail=""):
    global FAILED
    if ok:
        print(f"PASS {name}", flush=True)
    else:
        FAILED += 1
        print(f"FAIL {name}: {detail}", flush=True)
    return ok


def api(path, method="GET", body=None, token=ARGS["token"]):
    request = urllib.request.Request(ARGS["url"] + "/api/v1" + path, method=method)
    if token:
        request.add_header("Authorization", "Bearer " + token)
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None


def browser(width=1280, height=900):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--window-size={width},{height}", "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def shot(driver, name):
    """The whole page: the window grows to the page's height for the picture, then shrinks back."""
    size = driver.get_window_size()
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(size["width"], min(max(height + 20, size["height"]), 4000))
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(os.path.join(ARGS["artefacts"], name + ".png"))
    driver.set_window_size(size["width"], size["height"])


def until(driver, seconds, condition, what):
    """The condition's value, or None (and a FAIL for `what`) when it stays false."""
    try:
        # The views redraw from live events: an element found a moment ago may be gone.
        wait = WebDriverWait(driver, seconds, poll_frequency=0.25, ignored_exceptions=[StaleElementReferenceException])
        return wait.until(lambda d: condition(d))
    except TimeoutException:
        report(False, what, f"not within {seconds} s")
        return None


def text(driver, selector):
    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return found[0].text if found else ""


def browser_errors(driver):
    """Script errors and CSP refusals the page met (network 401s are expected and left out)."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE" and entry.get("source") != "network"]


def console_flow(driver):
    mac, url = ARGS["mac"], ARGS["url"]
    driver.get(url + "/ui/")
    # 1. Without a token the console asks for one (this listener has no read network).
    if until(driver, 15, lambda d: d.find_elements(By.ID, "token"), "the console asks for the token"):
        report(True, "without the token the console asks for it")
    shot(driver, "01-sign-in")
    token_field = driver.find_element(By.ID, "token")
    token_field.send_keys("not-the-token-0000000000")
    driver.find_element(By.ID, "signin").click()
    if until(driver, 10, lambda d: "refused" in text(d, "#login-message"), "a wrong token is refused"):
        report(True, "a wrong token is refused and nothing is shown")
    token_field = driver.find_element(By.ID, "token")
    token_field.clear()
    token_field.send_keys(ARGS["token"] + Keys.ENTER)
    if until(driver, 15, lambda d: d.find_elements(By.ID, "machines"), "signed in, the machines table"):
        report(True, "signed in with the token: the machines table")
    report(driver.execute_script("return document.cookie") == "", "the token is no cookie",
           driver.execute_script("return document.cookie"))
    report(driver.execute_script("return sessionStorage.getItem('vboot.token')") == ARGS["token"],
           "the token is kept in the tab's session storage")
    until(driver, 10, lambda d: "live" == text(d, "#live"), "the live feed connects")

    # 2. Add the machine through the form.
    details = driver.find_element(By.CSS_SELECTOR, "details.card")
    if not details.get_attribute("open"):
        details.find_element(By.TAG_NAME, "summary").click()
    driver.find_element(By.ID, "add-mac").send_keys(mac)
    driver.find_element(By.ID, "add-hostname").send_keys("console1")
    Select(driver.find_element(By.ID, "add-profile")).select_by_value("debian")
    driver.find_element(By.ID, "add-machine").click()
    row = until(driver, 10, lambda d: d.find_elements(By.CSS_SELECTOR, f'#machines tr[data-mac="{mac}"]'),
                "the added machine appears in the table")
    status, stored = api(f"/machines/{mac}")
    report(row and status == 200 and stored["hostname"] == "console1" and stored["profile"] == "debian",
           "add a machine: in the table and in the inventory", f"API {status} {stored}")
    # The stuck one: a machine that fetched its script and was never heard of again.
    api("/machines", "POST", {"mac": ARGS["stuck_mac"], "hostname": "stuck1"})
    urllib.request.urlopen(ARGS["boot_url"] + "/boot.ipxe?mac=" + ARGS["stuck_mac"].replace(":", "-"), timeout=10).read()
    # Added elsewhere (the API), it appears here by itself: the live feed carries the change.
    if until(driver, 10, lambda d: d.find_elements(By.CSS_SELECTOR, f'#machines tr[data-mac="{ARGS["stuck_mac"]}"]'),
             "a machine added elsewhere appears without a reload"):
        report(True, "a machine added elsewhere appears without a reload")
    filter_field = driver.find_element(By.ID, "filter")
    filter_field.send_keys("console1")
    shown = until(driver, 5, lambda d: text(d, "#machine-count").startswith("1 of"), "the filter narrows the table")
    report(bool(shown), "the filter narrows the table")
    filter_field.clear()
    filter_field.send_keys(" ")
    filter_field.send_keys(Keys.BACKSPACE)
    driver.find_element(By.CSS_SELECTOR, 'th[data-key="hostname"] button').click()
    order = [tr.get_attribute("data-mac") for tr in driver.find_elements(By.CSS_SELECTOR, "#machines tbody tr")]
    sort = driver.find_element(By.CSS_SELECTOR, 'th[data-key="hostname"]').get_attribute("aria-sort")
    report(order[:2] == [mac, ARGS["stuck_mac"]] and sort == "ascending", "the table sorts by a column", f"{order} {sort}")
    shot(driver, "02-machines")

    # 3. The machine page: variables, then install once.
    driver.find_element(By.CSS_SELECTOR, f'#machines tr[data-mac="{mac}"] a').click()
    until(driver, 10, lambda d: d.find_elements(By.ID, "edit-variables"), "the machine page opens")
    variables = driver.find_element(By.ID, "edit-variables")
    variables.clear()
    variables.send_keys("\n".join(f"{k}={v}" for k, v in ARGS["variables"].items()))
    driver.find_element(By.ID, "save-machine").click()
    until(driver, 10, lambda d: "done" in text(d, "#notice"), "the variables are saved")
    status, stored = api(f"/machines/{mac}")
    report(status == 200 and stored["variables"] == ARGS["variables"], "edit the variables", f"{stored}")
    Select(driver.find_element(By.ID, "once-profile")).select_by_value("debian")
    driver.find_element(By.ID, "action-once").click()
    until(driver, 10, lambda d: text(d, "#fact-next-boot") == "once", "install once: next boot once")
    status, stored = api(f"/machines/{mac}")
    report(stored and stored["next_boot"] == "once", "set once (with the profile)", f"{stored}")

    # 4. The guest boots: its events arrive on this page without a reload.
    driver.execute_script("window.vbootSamePage = true")
    before = len(driver.find_elements(By.CSS_SELECTOR, "#timeline tr"))
    open(os.path.join(ARGS["rig_dir"], "console.start-guest"), "w").close()
    # The firmware's own iPXE (QEMU's ROM) asks for the script over HTTP straight after DHCP: no TFTP.
    kinds = until(driver, 180, lambda d: {"dhcp", "script", "asset"} <= {
        td.text for td in d.find_elements(By.CSS_SELECTOR, "#timeline tr.new td:nth-child(2)")} or None,
        "the guest's DHCP, script and kernel events arrive live")
    same = driver.execute_script("return window.vbootSamePage === true")
    rows = len(driver.find_elements(By.CSS_SELECTOR, "#timeline tr"))
    report(bool(kinds) and same and rows > before, "the guest's events arrive live, no reload",
           f"rows {before} -> {rows}, same page {same}")
    shot(driver, "03-machine-booting")

    # 5. The installer calls back: the page flips to local by itself.
    if until(driver, 300, lambda d: text(d, "#fact-next-boot") == "local", "next boot flips to local after the callback"):
        report(driver.execute_script("return window.vbootSamePage === true") and "installed" in text(driver, "#fact-state"),
               "after the installer's callback the page shows local and installed", text(driver, "#fact-state"))
    shot(driver, "04-machine-installed")

    # 6. The boot storm view: the installed machine done, the silent one stuck.
    driver.get(url + "/ui/#/storm")
    until(driver, 10, lambda d: d.find_elements(By.ID, "stuck-seconds"), "the storm view opens")
    seconds = driver.find_element(By.ID, "stuck-seconds")
    seconds.clear()
    seconds.send_keys("10" + Keys.TAB)
    stuck = until(driver, 30, lambda d: d.find_elements(By.CSS_SELECTOR, f'#storm tr.stuck[data-mac="{ARGS["stuck_mac"]}"]'),
                  "the silent machine is highlighted as stuck")
    done = driver.find_elements(By.CSS_SELECTOR, f'#storm tr.installed[data-mac="{mac}"] li.reached')
    report(bool(stuck) and len(done) == 5, "the storm view: installed machine done, the silent one stuck",
           f"stuck {bool(stuck)}, steps reached {len(done)}")
    report(text(driver, "#stuck-count").startswith("1"), "the storm view counts the stuck machine", text(driver, "#stuck-count"))
    shot(driver, "05-boot-storm")

    # 7. The other actions, on the silent machine: host name, hold, local disk, then remove it.
    stuck_mac = ARGS["stuck_mac"]
    driver.get(url + f"/ui/#/machine/{stuck_mac}")
    until(driver, 10, lambda d: d.find_elements(By.ID, "edit-hostname"), "the silent machine's page")
    hostname = driver.find_element(By.ID, "edit-hostname")
    hostname.clear()
    hostname.send_keys("stuck-one")
    driver.find_element(By.ID, "save-machine").click()
    until(driver, 10, lambda d: text(d, "#fact-hostname") == "stuck-one", "the host name edit shows")
    steps = []
    for button, state in (("action-hold", "hold"), ("action-local", "local"), ("action-profile", "profile")):
        driver.find_element(By.ID, button).click()
        until(driver, 10, lambda d, state=state: text(d, "#fact-next-boot") == state, f"{button}: next boot {state}")
        steps.append(api(f"/machines/{stuck_mac}")[1]["next_boot"])
    status, stored = api(f"/machines/{stuck_mac}")
    report(steps == ["hold", "local", "profile"] and stored["hostname"] == "stuck-one",
           "edit the host name; hold, local disk, profile", f"{steps} {stored and stored['hostname']}")
    driver.find_element(By.ID, "action-remove").click()
    WebDriverWait(driver, 5).until(expected_conditions.alert_is_present()).accept()
    gone = until(driver, 10, lambda d: d.find_elements(By.ID, "machines")
                 and not d.find_elements(By.CSS_SELECTOR, f'#machines tr[data-mac="{stuck_mac}"]'), "removed: gone from the table")
    report(bool(gone) and api(f"/machines/{stuck_mac}")[0] == 404, "remove a machine (confirmed): gone from the table and the inventory")

    # 8. Without the token a change is refused, and nothing changes.
    driver.get(url + f"/ui/#/machine/{mac}")
    until(driver, 10, lambda d: d.find_elements(By.ID, "action-shell"), "the machine page again")
    driver.execute_script("sessionStorage.removeItem('vboot.token')")
    driver.find_element(By.ID, "action-shell").click()
    refused = until(driver, 10, lambda d: "bearer token" in text(d, "#notice"), "a change without the token is refused")
    status, stored = api(f"/machines/{mac}")
    report(bool(refused) and stored["next_boot"] == "local", "a change without the token is refused; nothing changed",
           f"notice {text(driver, '#notice')!r}, next_boot {stored and stored['next_boot']}")
    until(driver, 10, lambda d: d.find_elements(By.ID, "token"), "refused, the console asks for the token again")
    errors = browser_errors(driver)
    report(not errors, "no script error or content-security refusal in the page", "; ".join(errors)[:400])


def read_only_flow(driver):
    mac = ARGS["mac"]
    driver.get(ARGS["read_url"] + "/ui/")
    if until(driver, 15, lambda d: d.find_elements(By.CSS_SELECTOR, f'#machines tr[data-mac="{mac}"]'),
             "a read network sees the machines without the token"):
        report("read-only" in text(driver, "#access") and not driver.find_element(By.ID, "add-machine").is_enabled(),
               "from a read network: read-only, the machines shown, changes disabled", text(driver, "#access"))
    status = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/api/v1/machines/' + arguments[0], {method: 'PATCH', body: '{"next_boot":"shell"}',
               headers: {'Content-Type': 'application/json'}}).then(r => done(r.status), e => done(String(e)));
    """, mac)
    report(status == 401, "from a read network a change without the token is refused (401)", str(status))
    shot(driver, "06-read-only")
    # Every form control is named for assistive technology; the first Tab reaches the skip link.
    unnamed = driver.execute_script("""
        return [...document.querySelectorAll('input, select, textarea, button')]
            .filter(e => !(e.closest('label') || e.getAttribute('aria-label') || e.textContent.trim()))
            .map(e => e.id || e.outerHTML.slice(0, 60));
    """)
    report(not unnamed, "every control has a label or text", str(unnamed))
    driver.execute_script("document.activeElement.blur()")
    ActionChains(driver).send_keys(Keys.TAB).perform()
    first = driver.execute_script("return document.activeElement.className")
    report(first == "skip", "the first Tab reaches 'Skip to content'", first)


# The state rules (ui/js/progress.js) run in the browser as the views run them: each case is an
# event (or none), the machine, how long ago, and the state and step it must give.
PROGRESS_CASES = [
    (None, {}, 0, "unseen", -1),
    ({"kind": "dhcp", "outcome": "ok"}, {}, 5, "booting", 0),
    ({"kind": "dhcp", "outcome": "ok"}, {}, 200, "stuck", 0),
    ({"kind": "tftp", "outcome": "failed"}, {}, 1, "failed", 1),
    ({"kind": "script", "outcome": "ok", "details": {"action": "profile debian"}}, {}, 200, "stuck", 2),
    ({"kind": "script", "outcome": "ok", "details": {"action": "local disk"}}, {}, 500, "booted", 4),
    ({"kind": "script", "outcome": "ok", "details": {"action": "shell"}}, {}, 500, "booted", 4),
    # What the server records for a held machine: its script refused, on purpose.
    ({"kind": "script", "outcome": "refused", "details": {"action": "hold"}}, {}, 500, "held", 2),
    ({"kind": "script", "outcome": "refused", "details": {"action": "profile debian"}}, {}, 5, "failed", 2),
    # --dhcp full: a running system renewing its lease is not a boot stuck at DHCP.
    ({"kind": "dhcp", "outcome": "ok", "details": {"mode": "full", "boot": "no"}}, {}, 900, "booted", 4),
    ({"kind": "dhcp", "outcome": "ok", "details": {"mode": "full", "boot": "yes"}}, {}, 900, "stuck", 0),
    ({"kind": "asset", "outcome": "ok"}, {}, 200, "booted", 4),
    ({"kind": "asset", "outcome": "ok"}, {"next_boot": "once", "install_handed_out": True}, 200, "installing", 3),
    ({"kind": "asset", "outcome": "ok"}, {"next_boot": "once", "install_handed_out": True}, 5, "installing", 3),
    ({"kind": "callback", "outcome": "ok"}, {"next_boot": "local"}, 900, "installed", 4),
]


def progress_rules(driver):
    driver.get(ARGS["read_url"] + "/ui/")
    until(driver, 15, lambda d: d.find_elements(By.ID, "machines"), "the console loads for the state rules")
    results = driver.execute_async_script("""
        const [cases, done] = [arguments[0], arguments[arguments.length - 1]];
        import('./js/progress.js').then((m) => {
            const now = Date.parse('2026-01-01T00:10:00Z');
            done(cases.map(([event, machine, ago]) => {
                const e = event && { ...event, at: new Date(now - ago * 1000).toISOString() };
                const r = m.progress(machine, e, now, 120);
                return [r.state, r.step];
            }));
        }, (error) => done(String(error)));
    """, PROGRESS_CASES)
    wrong = [(case, got) for case, got in zip(PROGRESS_CASES, results if isinstance(results, list) else [])
             if got != [case[3], case[4]]]
    report(isinstance(results, list) and not wrong, f"the state rules: {len(PROGRESS_CASES)} cases",
           str(results if not isinstance(results, list) else wrong)[:400])


def phone_flow(driver):
    driver.get(ARGS["read_url"] + "/ui/#/storm")
    until(driver, 15, lambda d: d.find_elements(By.CSS_SELECTOR, "#storm tr"), "the storm view on a phone")
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    report(overflow <= 1, "readable on a phone (390 px): nothing wider than the screen", f"{overflow} px too wide")
    shot(driver, "07-phone-storm")


def main():
    os.makedirs(ARGS["artefacts"], exist_ok=True)
    flows = ((console_flow, (1280, 900)), (read_only_flow, (1280, 900)), (progress_rules, (1280, 900)),
             (phone_flow, (390, 844)))
    # CONSOLE_FLOWS=name,...: only those (to work on one without booting a guest).
    only = [name for name in os.environ.get("CONSOLE_FLOWS", "").split(",") if name]
    for flow, size in flows:
        if only and flow.__name__ not in only:
            continue
        driver = None
        try:
            driver = browser(*size)
            flow(driver)
        except (WebDriverException, OSError, KeyError, TypeError) as error:
            report(False, flow.__name__, f"{type(error).__name__}: {str(error)[:300]}")
            if driver:
                shot(driver, f"failed-{flow.__name__}")
        finally:
            if driver:
                driver.quit()
    sys.exit(1 if FAILED else 0)


main()
