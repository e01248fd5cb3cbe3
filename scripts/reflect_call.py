#!/usr/bin/env python3
"""Calls a quotecast RPC the way grpcurl does: no .proto files, only server
reflection. Used to check the README's grpcurl examples where grpcurl itself
cannot be installed.

    python3 scripts/reflect_call.py 127.0.0.1:50051 quotecast.v1.QuoteService/PriceQuote '{"currencyCode": "USD", ...}'
    python3 scripts/reflect_call.py 127.0.0.1:50051 list
    python3 scripts/reflect_call.py -H 'authorization: Bearer KEY' 127.0.0.1:50051 SERVICE/METHOD '{...}'

Needs: pip install grpcio grpcio-reflection protobuf
"""
import json
import sys

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


def main() -> int:
    # Headers, as grpcurl's -H: each `-H 'name: value'` before the address.
    metadata = []
    while len(sys.argv) > 2 and sys.argv[1] == "-H":
        name, _, value = sys.argv[2].partition(":")
        metadata.append((name.strip().lower(), value.strip()))
        del sys.argv[1:3]
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    channel = grpc.insecure_channel(sys.argv[1])
    database = ProtoReflectionDescriptorDatabase(channel)
    if sys.argv[2] == "list":
        for service in database.get_services():
            print(service)
        return 0
    service_name, method_name = sys.argv[2].rsplit("/", 1)
    pool = descriptor_pool.DescriptorPool(database)
    method = pool.FindServiceByName(service_name).FindMethodByName(method_name)
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    request = json_format.Parse(sys.argv[3] if len(sys.argv) > 3 else "{}", request_class())
    # A server-streaming method prints each message as it comes, as
    # grpcurl does; a client-streaming one is sent the request as a stream
    # of one message.
    if method.client_streaming:
        make = channel.stream_unary
    elif method.server_streaming:
        make = channel.unary_stream
    else:
        make = channel.unary_unary
    call = make(
        f"/{service_name}/{method_name}",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    try:
        if method.client_streaming:
            responses = [call(iter([request]), metadata=metadata)]
        elif method.server_streaming:
            responses = call(request, metadata=metadata)
        else:
            responses = [call(request, metadata=metadata)]
        for response in responses:
            print(json.dumps(json_format.MessageToDict(response), indent=2, ensure_ascii=False))
    except grpc.RpcError as error:
        print(f"ERROR:\n  Code: {error.code().name}\n  Message: {error.details()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
