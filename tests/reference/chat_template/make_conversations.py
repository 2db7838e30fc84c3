#!/usr/bin/python3
"""Writes tests/fixtures/chat_templates/conversations.json: the conversations every
chat template is rendered with (by gen_golden.py with Jinja2, and by the C++ test).

Each entry: name, messages, optional tools, add_generation_prompt, optional kwargs
(extra template variables such as {"thinking": true}). Shapes follow what the
DeepSeek templates read: assistant tool calls as
{"role": "assistant", "content": None, "tool_calls": [{"type": "function",
"function": {"name": ..., "arguments": "<json text>"}}]} and results as
{"role": "tool", "content": ...}.
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "fixtures", "chat_templates", "conversations.json")

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current local time in a time zone.",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
    },
}


def call(name, arguments):
    return {"type": "function", "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)}}


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


def system(text):
    return {"role": "system", "content": text}


def tool(text):
    return {"role": "tool", "content": text}


conversations = [
    {"name": "single_user", "messages": [user("Hello!")], "add_generation_prompt": True},
    {"name": "single_user_no_generation_prompt", "messages": [user("Hello!")], "add_generation_prompt": False},
    {"name": "system_and_user", "messages": [system("You are a helpful assistant."), user("What is 2+2?")],
     "add_generation_prompt": True},
    {"name": "multi_turn_with_system", "messages": [
        system("You are terse."), user("Name a colour."), assistant("Blue."), user("Another one?")],
     "add_generation_prompt": True},
    {"name": "multi_turn_ends_with_assistant", "messages": [
        user("Hi"), assistant("Hello! How can I help?"), user("Tell me a joke."),
        assistant("Why did the chicken cross the road? To get to the other side.")],
     "add_generation_prompt": False},
    {"name": "two_system_messages", "messages": [
        system("Rule one: be kind."), system("Rule two: be brief."), user("Hi")],
     "add_generation_prompt": True},
    {"name": "system_only", "messages": [system("You are a calculator.")], "add_generation_prompt": True},
    {"name": "empty_conversation", "messages": [], "add_generation_prompt": True},
    {"name": "assistant_turn_with_think", "messages": [
        user("What is 17*3?"),
        assistant("<think>\n17*3 = 51.\n</think>\n\nThe answer is 51."),
        user("And 17*4?")],
     "add_generation_prompt": True},
    {"name": "assistant_turn_with_two_think_closings", "messages": [
        user("Q1"), assistant("<think>a</think>b</think>c"), user("Q2")],
     "add_generation_prompt": True},
    {"name": "tool_call_then_answer", "tools": [WEATHER_TOOL], "messages": [
        system("You can call tools."),
        user("What's the weather in Paris?"),
        {"role": "assistant", "content": None, "tool_calls": [call("get_weather", {"city": "Paris"})]},
        tool('{"temperature": 18, "condition": "cloudy"}'),
        assistant("It is 18°C and cloudy in Paris.")],
     "add_generation_prompt": False},
    {"name": "parallel_tool_calls", "tools": [WEATHER_TOOL, TIME_TOOL], "messages": [
        user("Weather and time in Tokyo?"),
        {"role": "assistant", "content": None, "tool_calls": [
            call("get_weather", {"city": "Tokyo", "unit": "celsius"}), call("get_time", {"tz": "Asia/Tokyo"})]},
        tool('{"temperature": 25}'),
        tool('{"time": "21:04"}')],
     "add_generation_prompt": True},
    {"name": "tool_result_then_generation_prompt", "tools": [WEATHER_TOOL], "messages": [
        user("Weather in Oslo?"),
        {"role": "assistant", "content": None, "tool_calls": [call("get_weather", {"city": "Oslo"})]},
        tool("-3 and snowing")],
     "add_generation_prompt": True},
    {"name": "tool_call_with_content", "tools": [WEATHER_TOOL], "messages": [
        user("Weather in Rome?"),
        {"role": "assistant", "content": "Let me check.", "tool_calls": [call("get_weather", {"city": "Rome"})]},
        tool("sunny"),
        assistant("Sunny in Rome.")],
     "add_generation_prompt": False},
    {"name": "two_tool_rounds", "tools": [WEATHER_TOOL, TIME_TOOL], "messages": [
        user("Weather in Lima?"),
        {"role": "assistant", "content": None, "tool_calls": [call("get_weather", {"city": "Lima"})]},
        tool("warm"),
        assistant("Warm."),
        user("And the time there?"),
        {"role": "assistant", "content": None, "tool_calls": [call("get_time", {"tz": "America/Lima"})]},
        tool("10:00"),
        assistant("It is 10:00.")],
     "add_generation_prompt": False},
    {"name": "tool_calls_explicit_null", "messages": [
        user("Hi"), {"role": "assistant", "content": "Hello.", "tool_calls": None}, user("Bye")],
     "add_generation_prompt": True},
    {"name": "unicode_content", "messages": [
        system("Réponds en français. 用中文回答。"),
        user("Emoji 😀👍🏽, arabic مرحبا, combining e\u0301, zero-width\u200bjoiner, nbsp\u00a0here"),
        assistant("Ça va — 好的 ✓"),
        user("Tokens inside text: <｜User｜> <｜Assistant｜> <｜end▁of▁sentence｜>")],
     "add_generation_prompt": True},
    {"name": "empty_contents", "messages": [user(""), assistant(""), user("")], "add_generation_prompt": True},
    {"name": "whitespace_and_escapes", "messages": [
        user("  leading and trailing  \n\n"),
        assistant("tabs\tand \\backslashes\\ and 'quotes' \"double\" {{ not jinja }} {% neither %}"),
        user("line1\r\nline2\rline3\n")],
     "add_generation_prompt": False},
    {"name": "thinking_on", "kwargs": {"thinking": True}, "messages": [
        system("Think step by step."), user("Is 97 prime?")],
     "add_generation_prompt": True},
    {"name": "thinking_off", "kwargs": {"thinking": False}, "messages": [
        system("Think step by step."), user("Is 97 prime?")],
     "add_generation_prompt": True},
    {"name": "thinking_on_history", "kwargs": {"thinking": True}, "messages": [
        user("Is 91 prime?"),
        assistant("<think>91 = 7*13</think>No, 91 = 7 × 13."),
        user("Is 97 prime?")],
     "add_generation_prompt": True},
    {"name": "thinking_prefix_continuation", "kwargs": {"thinking": True}, "messages": [
        user("Write a haiku."),
        {"role": "assistant", "content": "Autumn", "prefix": True}],
     "add_generation_prompt": False},
    {"name": "enable_thinking_kwarg", "kwargs": {"enable_thinking": True}, "messages": [user("Hi")],
     "add_generation_prompt": True},
    {"name": "long_conversation", "messages": [
        system("Count with me."),
        user("1"), assistant("2"), user("3"), assistant("4"), user("5"), assistant("6"),
        user("7"), assistant("8"), user("9")],
     "add_generation_prompt": True},
    {"name": "assistant_first", "messages": [assistant("Welcome!"), user("Thanks.")],
     "add_generation_prompt": True},
    {"name": "generation_prompt_after_assistant", "messages": [user("Hi"), assistant("Hello")],
     "add_generation_prompt": True},
    {"name": "extra_message_fields", "messages": [
        {"role": "user", "content": "Hi", "name": "alice", "id": 7},
        {"role": "assistant", "content": "Hello alice", "reasoning_content": "greet"}],
     "add_generation_prompt": False},
    {"name": "user_content_null", "messages": [{"role": "user", "content": None}],
     "add_generation_prompt": True},
    {"name": "tool_arguments_with_unicode", "tools": [WEATHER_TOOL], "messages": [
        user("Wetter in München?"),
        {"role": "assistant", "content": None, "tool_calls": [call("get_weather", {"city": "München", "note": "\"quoted\" ☂"})]},
        tool("Regen ☔")],
     "add_generation_prompt": True},
]

with open(OUT, "w", encoding="utf-8") as f:
    json.dump(conversations, f, ensure_ascii=False, indent=1)
    f.write("\n")
print(f"wrote {len(conversations)} conversations to {os.path.normpath(OUT)}")
