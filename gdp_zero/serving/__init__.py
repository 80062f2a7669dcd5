"""Server policy shared by the web apps, with no Gradio in it: per-client limits and scratch folders."""
