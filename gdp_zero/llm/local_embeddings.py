"""The local model's `/v1/embeddings`: Gemma 3 270M's hidden states, mean-pooled, over OpenAI's protocol.

llama-cpp-python's own server cannot choose the pooling, and Gemma's GGUF names none, so it sends a
vector per token. This process loads the model in embedding mode with mean pooling and answers
`GET /v1/models` and `POST /v1/embeddings` (one vector of 640 numbers per input, unit length, as
OpenAI's are). It is a process of its own, apart from the chat server: in embedding mode llama.cpp
computes an output for every prompt token, which would make the chat server's long prompts slower.

    python -m gdp_zero.llm.local_embeddings --model FILE --alias NAME --port PORT --threads N
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MEAN_POOLING = 1  # llama.cpp's LLAMA_POOLING_TYPE_MEAN


def embedding_app(model_file: str, alias: str, threads: int, n_ctx: int = 512) -> Starlette:
    import llama_cpp

    model = llama_cpp.Llama(model_path=model_file, embedding=True, pooling_type=MEAN_POOLING, n_ctx=n_ctx,
                            n_threads=threads, n_threads_batch=threads, verbose=False)
    one_at_a_time = asyncio.Lock()  # a llama.cpp context is not safe to share between threads

    def embed(texts: list[str]) -> tuple[list[list[float]], int]:
        """Unit vectors of `texts` and the tokens they took (in the lock's thread, as the model's every use)."""
        return ([model.embed(text, normalize=True, truncate=True) for text in texts],
                sum(len(model.tokenize(text.encode())) for text in texts))

    async def models(_: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": alias, "object": "model", "owned_by": "local"}]})

    async def embeddings(request: Request) -> JSONResponse:
        body: Any = await request.json()
        given = body.get("input") if isinstance(body, dict) else None
        texts = [given] if isinstance(given, str) else given
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
            return JSONResponse({"error": {"message": "input: give a non-empty string or a list of them"}}, status_code=400)
        async with one_at_a_time:
            vectors, tokens = await asyncio.to_thread(embed, texts)
        return JSONResponse({
            "object": "list", "model": alias,
            "data": [{"object": "embedding", "index": i, "embedding": vector} for i, vector in enumerate(vectors)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        })

    return Starlette(routes=[Route("/v1/models", models), Route("/v1/embeddings", embeddings, methods=["POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--alias", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(embedding_app(args.model, args.alias, args.threads), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
