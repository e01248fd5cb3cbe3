#!/usr/bin/env python3
"""Calls a quotecast RPC the way grpcurl does: no .proto files, only server
reflection. Used to check the README's grpcurl examples where grpcurl itself
cannot be installed.

    python3 scripts/reflect_call.py 127.0.0.1:50051 quotecast.v1.QuoteService/PriceQuote '{"currencyCode": "USD", ...}'
    python3 scripts/reflect_call.py 127.0.0.1:50051 list

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
            responses = [call(iter([request]))]
        elif method.server_streaming:
            responses = call(request)
        else:
            responses = [call(request)]
        for response in responses:
            print(json.dumps(json_format.MessageToDict(response), indent=2, ensure_ascii=False))
    except grpc.RpcError as error:
        print(f"ERROR:\n  Code: {error.code().name}\n  Message: {error.details()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
