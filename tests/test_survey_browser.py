"""The survey page in a real headless Chromium: one click records, the form submits, also without JavaScript."""

from __future__ import annotations

import re

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from saleor_support_plugin.surveys.models import Survey, SurveyState

from .fixtures.browser import sent_survey, survey_link


@pytest.fixture
def survey_settings(support_config):
    support_config(surveys_enabled=True)


def _state(survey: Survey) -> tuple[str, int | None, str, bool]:
    survey.refresh_from_db()
    return survey.state, survey.score, survey.comment, survey.may_quote


# Every visible element with text of its own: its colour and the first opaque background behind it.
TEXT_COLOURS = """
var out = [];
document.querySelectorAll("body *").forEach(function (el) {
  var own = [].some.call(el.childNodes, function (n) {
    return n.nodeType === 3 && n.textContent.trim();
  });
  var box = el.getBoundingClientRect();
  if (!own || box.width < 2 || box.height < 2) return;
  var bg = null;
  for (var e = el; e && !bg; e = e.parentElement) {
    var c = getComputedStyle(e).backgroundColor;
    if (c !== "rgba(0, 0, 0, 0)" && c !== "transparent") bg = c;
  }
  out.push([el.textContent.trim().slice(0, 30), getComputedStyle(el).color, bg]);
});
return out;
"""


def _luminance(css: str) -> float:
    red, green, blue = (int(part) for part in re.findall(r"\d+", css)[:3])

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)


def _contrast(foreground: str, background: str) -> float:
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _wait_for(driver, element_id: str, seconds: float = 10):
    return WebDriverWait(driver, seconds).until(
        ec.presence_of_element_located((By.ID, element_id))
    )


def test_a_click_records_the_score_and_the_comment_submits(
    transactional_db, live_server, chromium, survey_settings
):
    # given a sent survey and a phone-sized browser with JavaScript
    survey = sent_survey()
    driver = chromium(javascript=True, width=320)
    # when the customer opens the email's link for a 9
    driver.get(live_server.url + survey_link(survey, 9))
    notice = _wait_for(driver, "notice")
    # then the page's own POST recorded the 9 and the form offers it for change
    assert notice.text.startswith("Thank you! We recorded your score of 9.")
    assert _state(survey) == (SurveyState.ANSWERED, 9, "", False)
    assert driver.find_element(By.ID, "score-9").is_selected()
    # and the styles applied (inline, by nonce) and nothing scrolls sideways at 320 px
    button = driver.find_element(By.ID, "send")
    assert button.value_of_css_property("background-color") == "rgba(29, 78, 216, 1)"
    assert driver.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]"
    ) == [320, 320]
    # and every text has a contrast of at least 4.5:1 (the chosen score's white on blue too)
    texts = driver.execute_script(TEXT_COLOURS)
    assert {"9", "Send", "0 = Not at all likely"} <= {text for text, _, _ in texts}
    low = [
        (t, round(_contrast(fg, bg or "rgb(255, 255, 255)"), 2)) for t, fg, bg in texts
    ]
    assert [(text, ratio) for text, ratio in low if ratio < 4.5] == []
    # when they change to a 10, type a comment, allow quoting and send
    driver.find_element(By.ID, "score-10").click()
    driver.find_element(By.ID, "comment").send_keys("Quick delivery <b>and</b> nice")
    driver.find_element(By.CSS_SELECTOR, "label[for=may_quote]").click()
    button.click()
    message = _wait_for(driver, "message")
    # then the answer is final
    assert message.text == "Thank you for your feedback."
    assert _state(survey) == (
        SurveyState.SUBMITTED,
        10,
        "Quick delivery and nice",
        True,
    )


def test_keyboard_focus_moves_in_reading_order(
    transactional_db, live_server, chromium, survey_settings
):
    # given the page a link opened (its score recorded by the page itself)
    survey = sent_survey()
    driver = chromium(javascript=True)
    driver.get(live_server.url + survey_link(survey, 4))
    _wait_for(driver, "notice")
    # when the customer tabs through the freshly loaded page
    stops = []
    for _ in range(4):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        stops.append(driver.switch_to.active_element.get_attribute("id"))
    # then the scores (one stop, the chosen one), the comment, "quote me" and send follow in order
    assert stops == ["score-4", "comment", "may_quote", "send"]
    # and the focused control shows an outline
    outline = driver.execute_script(
        "var s = getComputedStyle(document.activeElement);"
        "return [s.outlineStyle, s.outlineWidth];"
    )
    assert outline == ["solid", "3px"]


def test_without_javascript_nothing_is_recorded_until_the_button(
    transactional_db, live_server, chromium, survey_settings
):
    # given a sent survey and a browser with JavaScript off
    survey = sent_survey()
    driver = chromium(javascript=False)
    # when the customer opens the link for a 3
    driver.get(live_server.url + survey_link(survey, 3))
    # then the page shows the 3 chosen and nothing posts by itself
    with pytest.raises(TimeoutException):
        _wait_for(driver, "notice", seconds=2)
    assert driver.find_element(By.ID, "score-3").is_selected()
    assert _state(survey) == (SurveyState.SENT, None, "", False)
    # when they write a comment and press the button
    driver.find_element(By.ID, "comment").send_keys("Box was damaged")
    driver.find_element(By.ID, "send").click()
    message = _wait_for(driver, "message")
    # then the score and the comment are submitted in one go
    assert message.text == "Thank you for your feedback."
    assert _state(survey) == (SurveyState.SUBMITTED, 3, "Box was damaged", False)
